"""Reports stay byte-identical: every fixture and the sample batch, in every format and both
languages (and with `--explain`), against digests recorded before the evaluator and the layout
were restructured (`runs.py`; re-record with `python -m tests.golden.record`)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .runs import runs

ROOT = Path(__file__).resolve().parents[2]
DIGESTS = Path(__file__).with_name("digests.json")
CACHE = Path(tempfile.gettempdir()) / f"qinqing-test-cache-{os.getuid()}"


def report_digest(args: list[str], keep: Path | None = None) -> str:
    """The SHA-256 of the report `qinqing check ARGS` writes (exit code and stderr folded in; the
    report's temporary path in stderr's summary line written as `<report>`)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report"
        cmd = [sys.executable, "-m", "checker.cli", "check", *args, "-o", str(out),
               "--fail-on", "never"]
        env = {**os.environ, "QINQING_CACHE_DIR": str(CACHE), "PYTHONHASHSEED": "random"}
        env.pop("QINQING_RULES", None)
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=300, check=False)
        assert b"Traceback" not in proc.stderr, proc.stderr.decode()
        data = out.read_bytes() if out.exists() else b""
        if keep is not None:
            keep.parent.mkdir(parents=True, exist_ok=True)
            keep.write_bytes(data)
        h = hashlib.sha256(data)
        h.update(b"\0exit=%d\0" % proc.returncode)
        h.update(proc.stderr.replace(str(out).encode(), b"<report>"))  # the summary line names it
        return h.hexdigest()


RUNS = runs()
WANT: dict[str, str] = json.loads(DIGESTS.read_text(encoding="utf-8")) if DIGESTS.exists() else {}


def test_every_run_is_recorded() -> None:
    assert sorted(WANT) == sorted(RUNS)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_report_is_unchanged(name: str) -> None:
    assert report_digest(RUNS[name]) == WANT.get(name), (
        f"the {name} report changed; if that is intended, re-record with "
        "`python -m tests.golden.record` and say why in the CHANGELOG")
