"""Suite-wide: the chain key (checker.store.keys) of every ledger and decision log the tests
write is a throwaway one, never the user's own (~/.config/qinqing/chain.key); a failed
comparison of two large reports says where they first differ, instead of pytest's diff, which
takes quadratic time (a 2 MB HTML report: over an hour); and the browser tests share one
headless Chromium (`chromium`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

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


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium driven by Playwright (no browser download). Skipped when either is
    missing, except in CI (CI=true), where `.ci/run` must have installed them. One per test
    module: Playwright's sync API keeps an event loop running in the thread while it is open,
    which `asyncio.run` in a later test of the same worker would trip over."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[test]')"
    if missing is None and not CHROMIUM.exists():
        missing = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}; .ci/run must install it so the browser tests run in CI")
        pytest.skip(missing)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
