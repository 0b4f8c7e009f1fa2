"""`qinqing audit verify`: check a decision log's hash chain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXIT_OK, EXIT_TAMPERED, EXIT_UNREADABLE = 0, 1, 2


def verify(
    file: Annotated[Path, typer.Argument(help="决策日志文件 / Decision log file.")],
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="另行保存的最后一行哈希，用于发现末尾被删除的行 / "
            "The last hash kept elsewhere, to catch lines cut from the end.",
        ),
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="输出语言 zh|en / Output language.")] = "zh",
) -> None:
    """校验决策日志未被修改、删除或调换顺序 / Verify a decision log is untampered."""
    from checker.store.audit import verify as verify_log

    lang = lang.lower()
    if lang not in ("zh", "en"):
        raise typer.BadParameter("zh | en", param_hint="--lang")
    try:
        report = verify_log(file, head=head)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        typer.echo(
            f"Cannot read {file}: {reason}" if lang == "en" else f"无法读取 {file}：{reason}",
            err=True,
        )
        raise typer.Exit(EXIT_UNREADABLE) from None
    for problem in report.problems:
        typer.echo(problem.message(lang))
    typer.echo(report.summary(lang))
    if report.ok and report.head:
        typer.echo(f"Last hash: {report.head}" if lang == "en" else f"末行哈希：{report.head}")
    if not report.ok:
        raise typer.Exit(EXIT_TAMPERED)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="audit",
        help="决策日志 / The tamper-evident decision log.",
        no_args_is_help=True,
    )
    group.command("verify")(verify)
    app.add_typer(group, name="audit")
