"""SIGKILL during ledger imports loses no committed file and leaves no partial one.

A child process imports files into a ledger and reports its progress on
stdout; the test kills it (SIGKILL, no cleanup) at a chosen point, then opens
the ledger and checks: `PRAGMA integrity_check` is ok, every file the child
saw committed is there in full, and every file present is complete.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from checker.store.ledger import Ledger

ROOT = Path(__file__).resolve().parents[3]

# The child: `python -c CHILD LEDGER PLAN PAUSE_AT`, PLAN being "name:size,name:size,...".
# It prints "start NAME", "mid NAME" (mid-stream: half-way, or after 40,000 rows),
# "exhausted NAME" (every row inserted, transaction not yet committed; it waits
# there if PAUSE_AT says so) and "committed NAME".
CHILD = r"""
import datetime as dt, sys, time
from checker.store.ledger import Ledger

ledger_path, plan, pause_at = sys.argv[1], sys.argv[2], sys.argv[3]

def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()

def records(name, size):
    day = dt.date(2024, 3, 5)
    for i in range(size):
        if i == min(size // 2, 40_000):
            say("mid " + name)
        yield {"id": f"{name}-{i:06d}", "stage": "completed", "jurisdiction": "150300",
               "date": day + dt.timedelta(days=i % 300), "official": {"id": f"O-{i % 97}"}}
    say("exhausted " + name)
    if pause_at == "exhausted " + name:
        time.sleep(60)  # hold the open transaction until killed

with Ledger(ledger_path) as ledger:
    for item in plan.split(","):
        name, size = item.split(":")
        say("start " + name)
        ledger.add_records(records(name, int(size)), source=name)
        say("committed " + name)
say("done")
"""


def plan_text(plan: dict[str, int]) -> str:
    return ",".join(f"{name}:{size}" for name, size in plan.items())


def run_and_kill(
    ledger: Path, plan: dict[str, int], kill_at: str, pause_at: str = "-"
) -> list[str]:
    """Run the child until it prints `kill_at`, SIGKILL it, return what it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ledger), plan_text(plan), pause_at],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    watchdog = threading.Timer(60, proc.kill)  # never hang the suite
    watchdog.start()
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line.strip())
            if seen[-1] == kill_at:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait()
    finally:
        watchdog.cancel()
    assert kill_at in seen, (seen, proc.stderr.read() if proc.stderr else "")
    assert proc.returncode == -signal.SIGKILL
    return seen


def check_ledger(ledger: Path, plan: dict[str, int], seen: list[str]) -> set[str]:
    """Assert consistency; return the files present in the ledger."""
    conn = sqlite3.connect(ledger)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        by_source = dict(conn.execute("SELECT source, COUNT(*) FROM records GROUP BY source"))
        imports = conn.execute("SELECT id, source, record_count FROM imports").fetchall()
        by_import = dict(conn.execute("SELECT import_id, COUNT(*) FROM records GROUP BY import_id"))
    finally:
        conn.close()
    for name, count in by_source.items():  # no partial file
        assert count == plan[name], f"{name}: {count} of {plan[name]} records"
    for import_id, source, count in imports:  # each import row matches its rows
        assert by_import.get(import_id, 0) == count == plan[source]
    assert set(by_import) <= {row[0] for row in imports}
    committed = {line.split(" ", 1)[1] for line in seen if line.startswith("committed ")}
    assert committed <= set(by_source), "a committed file was lost"
    return set(by_source)


def test_kill_mid_stream_of_a_large_file(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    plan = {"small": 500, "big": 200_000}
    seen = run_and_kill(ledger, plan, kill_at="mid big")
    # uncommitted pages did reach the disk: recovery has something to discard
    assert (tmp_path / "ledger.sqlite3-wal").stat().st_size > 1_000_000
    assert check_ledger(ledger, plan, seen) == {"small"}


def test_kill_after_every_row_before_commit(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    plan = {"first": 1_000, "whole": 15_000}
    seen = run_and_kill(ledger, plan, kill_at="exhausted whole", pause_at="exhausted whole")
    assert check_ledger(ledger, plan, seen) == {"first"}


@pytest.mark.parametrize("after", ["f00", "f03", "f07"])
def test_kill_just_after_a_commit(tmp_path: Path, after: str) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    plan = {f"f{i:02d}": 2_000 for i in range(12)}
    seen = run_and_kill(ledger, plan, kill_at=f"committed {after}")
    present = check_ledger(ledger, plan, seen)
    assert {f"f{i:02d}" for i in range(int(after[1:]) + 1)} <= present


def test_ledger_is_usable_after_repeated_kills(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    plan = {"a": 1_000, "b": 20_000}
    seen = run_and_kill(ledger, plan, kill_at="mid b")
    check_ledger(ledger, plan, seen)
    # the killed file can be imported again, in full
    plan2 = {"b": 20_000, "c": 1_000}
    seen2 = run_and_kill(ledger, plan2, kill_at="committed b")
    assert check_ledger(ledger, {**plan, **plan2}, seen2) >= {"a", "b"}
    with Ledger(ledger) as opened:
        assert opened.count() in (21_000, 22_000)
        assert len(opened.history("O-0")) > 0
