"""The `check` pipeline: load policies and records, evaluate, write the report, pick the exit code."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Sequence

from .engine import Engine, Options, PolicyLoadError, Summary, load_policy
from .report import Report
from .reports import BINARY, writer


def err(msg_zh: str, msg_en: str, lang: str) -> None:
    sys.stderr.write((msg_zh if lang == "zh" else msg_en) + "\n")


@contextmanager
def open_output(path: Path | None, binary: bool) -> Iterator[IO]:
    if path is None or str(path) == "-":
        yield sys.stdout.buffer if binary else sys.stdout
        return
    with open(path, "wb" if binary else "w", encoding=None if binary else "utf-8",
              newline=None if binary else "\n") as fh:
        yield fh


def run_check(*, files: Sequence[str], rules, jurisdiction, fmt: str, output, lang: str,
              explain: bool, history: Sequence[Path], input_format, encoding: str, jobs: int,
              failing: Sequence[str], log, mask) -> int:
    from policy_dsl.errors import render_all

    from .records import InputError, iter_records

    try:
        policy = load_policy(rules)
    except PolicyLoadError as exc:
        res = exc.result
        sys.stderr.write(render_all(res.errors, res.sources) + "\n")
        err("规则加载失败，请先运行 `qinqing lint` 修正错误。",
            "The policies did not load; run `qinqing lint` and fix the errors.", lang)
        return 2
    engine = Engine(policy, Options(lang=lang, explain=explain))
    try:
        hist = [h.data for h in iter_records([str(p) for p in history], encoding=encoding) if h.data]
        loaded = iter_records(list(files), input_format=input_format, encoding=encoding)
        summary = Summary()
        entries = engine.check(loaded, history=hist, summary=summary)
        report = Report(policy.describe(), entries, summary, lang, explain)
        failing_seen = _Watch(report.entries, failing)
        report.entries = failing_seen
        with open_output(output, fmt in BINARY) as out:
            writer(fmt)(report, out)
    except InputError as exc:
        err(f"无法读取输入：{exc.message_zh}", f"Cannot read input: {exc.message_en}", lang)
        return 2
    return 1 if failing_seen.hit else 0


class _Watch:
    """Passes entries through and remembers whether any reached the failing outcomes."""

    def __init__(self, entries, failing: Sequence[str]):
        self.entries = entries
        self.failing = set(failing)
        self.hit = False

    def __iter__(self):
        for e in self.entries:
            if e["outcome"] in self.failing:
                self.hit = True
            yield e
