"""Group commit of decision-log lines: requests waiting while a write is under way go out
together in one append, each gets back its own lines, errors reach every request of the group."""

from __future__ import annotations

import threading
import time

import pytest

from checker.service.grouplog import GroupLog
from checker.store.audit import DecisionLog
from checker.store.audit_verify import verify


class GatedLog:
    """A log whose first append waits until the test opens the gate."""

    def __init__(self, fail: bool = False):
        self.calls: list[list] = []
        self.gate = threading.Event()
        self.fail = fail

    def append_many(self, entries):
        self.calls.append(list(entries))
        if len(self.calls) == 1:
            assert self.gate.wait(30)
        if self.fail and len(self.calls) > 1:
            raise OSError(28, "No space left on device")
        return [{**e, "hash": f"h{len(self.calls)}-{i}"} for i, e in enumerate(entries)]


def wait_for(pred) -> None:
    deadline = time.monotonic() + 30
    while not pred():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def run_group(log: GatedLog, n: int) -> dict:
    group = GroupLog(log)
    results: dict = {}

    def request(i: int) -> None:
        try:
            results[i] = group.append([{"record_id": f"r{i}"}, {"record_id": f"r{i}b"}])
        except OSError as exc:
            results[i] = exc

    first = threading.Thread(target=request, args=(0,))
    first.start()
    wait_for(lambda: len(log.calls) == 1)  # request 0 is writing alone
    others = [threading.Thread(target=request, args=(i,)) for i in range(1, n)]
    for t in others:
        t.start()
    wait_for(lambda: len(group._pending) == n - 1)  # the others queue behind it
    log.gate.set()
    for t in [first, *others]:
        t.join(30)
    return results


def test_waiting_requests_share_one_append():
    log = GatedLog()
    results = run_group(log, 6)
    assert len(log.calls) == 2  # request 0 alone, then everyone who waited
    assert len(log.calls[1]) == 10
    for i in range(6):
        assert [line["record_id"] for line in results[i]] == [f"r{i}", f"r{i}b"]
    assert results[0][0]["hash"] == "h1-0"


def test_an_error_reaches_every_request_of_the_group():
    log = GatedLog(fail=True)
    results = run_group(log, 4)
    assert isinstance(results[0], list)
    for i in (1, 2, 3):
        assert isinstance(results[i], OSError) and results[i].errno == 28


def test_concurrent_appends_keep_the_chain(tmp_path):
    path = tmp_path / "log.jsonl"
    group = GroupLog(DecisionLog(path))
    entry = {"record_id": "x", "outcome": "compliant", "rules": []}

    def many() -> None:
        for _ in range(20):
            group.append([entry])

    threads = [threading.Thread(target=many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = verify(path)
    assert report.ok
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1 + 160


@pytest.mark.parametrize("lines", [[], [{"record_id": "only"}]])
def test_single_request(tmp_path, lines):
    written = GroupLog(DecisionLog(tmp_path / "l.jsonl")).append(lines)
    assert [w["record_id"] for w in written] == [x["record_id"] for x in lines]
