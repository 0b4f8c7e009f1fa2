"""Suite-wide: the chain key (checker.store.keys) of every ledger and decision log the tests
write is a throwaway one, never the user's own (~/.config/qinqing/chain.key); and a failed
comparison of two large reports says where they first differ, instead of pytest's diff, which
takes quadratic time (a 2 MB HTML report: over an hour)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

if not os.environ.get("QINQING_KEY_FILE"):
    os.environ["QINQING_KEY_FILE"] = str(Path(tempfile.mkdtemp(prefix="qinqing-key-")) / "chain.key")

LARGE = 20_000  # characters or bytes: past this, no diff


def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    if op != "==" or type(left) is not type(right) or not isinstance(left, (str, bytes)):
        return None
    if max(len(left), len(right)) <= LARGE:
        return None
    i = next((k for k, (a, b) in enumerate(zip(left, right)) if a != b), min(len(left), len(right)))
    return [f"{type(left).__name__} of {len(left)} == {len(right)}: they first differ at offset {i}",
            f"left:  {left[max(0, i - 200):i + 200]!r}", f"right: {right[max(0, i - 200):i + 200]!r}"]
