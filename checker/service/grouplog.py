"""Group commit for the decision log: concurrent requests share one append and one fsync.

Every check must be in the log before its answer goes out, and an fsync costs a few
milliseconds. Requests that arrive while a write is under way queue up; when it ends, one
of them writes the whole queue in one `append_many` and hands each request its own lines
(or the error). Order in the log is arrival order.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class AppendsMany(Protocol):
    def append_many(self, entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...


@dataclass
class _Ticket:
    lines: list[Mapping[str, Any]]
    done: bool = False
    result: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None


class GroupLog:
    def __init__(self, log: AppendsMany):
        self.log = log
        self._cond = threading.Condition()
        self._pending: list[_Ticket] = []
        self._writing = False

    def append(self, lines: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append `lines` (with whatever else is waiting); return them as written."""
        ticket = _Ticket(list(lines))
        with self._cond:
            self._pending.append(ticket)
            while not ticket.done and self._writing:
                self._cond.wait()
            if ticket.done:
                return self._outcome(ticket)
            batch, self._pending = self._pending, []  # this thread writes for everyone waiting
            self._writing = True
        written: list[dict[str, Any]] = []
        error: BaseException | None = None
        try:
            written = self.log.append_many([line for t in batch for line in t.lines])
        except BaseException as exc:  # noqa: BLE001 - handed to every request of the batch
            error = exc
        with self._cond:
            at = 0
            for t in batch:
                n = len(t.lines)
                t.result, t.error, t.done = written[at:at + n], error, True
                at += n
            self._writing = False
            self._cond.notify_all()
        return self._outcome(ticket)

    @staticmethod
    def _outcome(ticket: _Ticket) -> list[dict[str, Any]]:
        if ticket.error is not None:
            raise ticket.error
        return ticket.result
