"""Where a report goes: checks before any work, a file written whole, a progress line."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from checker.reports import BINARY, FILTERABLE
from checker.run.errors import CheckError


@contextmanager
def open_output(path: Path | None) -> Iterator[IO[bytes]]:
    """stdout, or a file written whole: a temporary file renamed into place on success. What
    exists and is not a regular file (`/dev/null`, a named pipe, a terminal) is written to as
    it is: renaming a file over it would replace the device or pipe itself."""
    if path is None or str(path) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    try:
        mode = target.stat().st_mode
        special = not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)
    except OSError:  # not there (yet): written whole, as a new file
        special = False
    if special:
        try:
            fh = open(target, "wb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CheckError(f"无法写入 {path}：{exc.strerror}", f"cannot write {path}: {exc.strerror}") from None
        with fh:
            yield fh
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    except OSError as exc:
        raise CheckError(f"无法写入 {path}：{exc.strerror}", f"cannot write {path}: {exc.strerror}") from None
    ok = False
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, target)
        ok = True
    except IsADirectoryError:
        raise CheckError(f"{path} 是目录", f"{path} is a directory") from None
    finally:
        if not ok and os.path.exists(tmp):
            os.unlink(tmp)


def check_output(fmt: str, output: Path | None, inputs: Sequence[str | Path], only) -> None:
    """Refuse, before any work, what would go wrong: `--only` with a format that has no
    filtered view, a binary report to a terminal, a report over one of its own inputs."""
    to_stdout = output is None or str(output) == "-"
    if only is not None and fmt not in FILTERABLE:
        raise CheckError(f"--only 只适用于 text、md、csv、html 格式，不适用于 {fmt}",
                         f"--only applies to the text, md, csv and html formats, not to {fmt}")
    if to_stdout:
        if fmt in BINARY and sys.stdout.isatty():
            raise CheckError(f"{fmt} 是二进制格式，不能输出到终端；请用 -o 指定报告文件，如 -o report.{fmt}",
                             f"{fmt} is a binary format and is not written to a terminal; "
                             f"give a report file with -o, e.g. -o report.{fmt}")
        return
    for f in inputs:
        if str(f) != "-" and _same_file(Path(output), Path(f)):  # type: ignore[arg-type]
            raise CheckError(f"-o {output} 是输入文件，报告会覆盖它；请另选报告文件",
                             f"-o {output} is one of the input files and the report would overwrite "
                             "it; choose another report file")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare the paths
        return a.resolve() == b.resolve()


def writes_file(output: Path | None) -> bool:
    return output is not None and str(output) != "-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Progress:
    """A rich progress line on stderr, only on a terminal, without colour under NO_COLOR,
    redrawn at most ten times a second (no refresh thread: workers are forked)."""

    def __init__(self, enabled: bool, lang: str):
        self.bar = None
        self.n = 0
        self.last = 0.0
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        label = "检查记录" if lang == "zh" else "Checking records"
        console = Console(file=sys.stderr, no_color=bool(os.environ.get("NO_COLOR")))
        self.bar = RichProgress(SpinnerColumn(), TextColumn(label), BarColumn(),
                                TextColumn("{task.completed:,}"), TimeElapsedColumn(),
                                console=console, transient=True, auto_refresh=False)
        self.task = self.bar.add_task(label, total=None)
        self.bar.start()

    def advance(self, n: int = 1) -> None:
        before, self.n = self.n, self.n + n
        if self.bar is not None and (self.n >> 8) != (before >> 8):
            now = time.monotonic()
            if now - self.last > 0.1:
                self.last = now
                self.bar.update(self.task, completed=self.n)
                self.bar.refresh()

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def progress_wanted(output: Path | None, fmt: str) -> bool:
    """On a terminal, and not drawing over a report that goes to the same terminal."""
    if not sys.stderr.isatty() or os.environ.get("CI"):
        return False
    to_stdout = output is None or str(output) == "-"
    return not (to_stdout and sys.stdout.isatty())
