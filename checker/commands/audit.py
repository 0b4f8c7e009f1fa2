"""`qinqing audit verify|checkpoint`: check the decision log and the ledger; export their heads.

`verify` exits 0 when both are intact (recovered crashes are listed as notices), 1 when
anything was tampered with or damaged (each problem named with its line or row), 2 when a
file or the key cannot be read. `checkpoint` prints (or writes with -o) the MACed heads of
both, to be kept on another machine.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

EXIT_OK, EXIT_TAMPERED, EXIT_UNREADABLE = 0, 1, 2

LogArgument = Annotated[Path | None, typer.Argument(
    help="决策日志文件（默认：账本旁的 decisions.jsonl，并校验账本）/ Decision log (default: "
         "decisions.jsonl beside the ledger, and the ledger too).", show_default=False)]
LedgerOption = Annotated[Path | None, typer.Option(
    "--ledger", dir_okay=False, help="账本文件（默认在用户数据目录）/ Ledger file.")]
KeyOption = Annotated[Path | None, typer.Option(
    "--key", dir_okay=False, help="链密钥文件 / Chain key file (default: QINQING_KEY_FILE or "
                                  "chain.key in the user configuration folder).")]
LangOption = Annotated[str, typer.Option("--lang", help="输出语言 zh|en / Output language.")]


def _lang(value: str) -> str:
    value = value.lower()
    if value not in ("zh", "en"):
        raise typer.BadParameter("zh | en", param_hint="--lang")
    return value


def _say(lang: str, zh: str, en: str, err: bool = False) -> None:
    typer.echo(en if lang == "en" else zh, err=err)


def _paths(file: Path | None, ledger: Path | None) -> tuple[Path, Path | None]:
    from checker.store.ledger import default_ledger_path

    if file is not None:  # that log; the ledger only when named
        return file, ledger
    ledger_path = ledger or default_ledger_path()
    log_path = ledger_path.parent / "decisions.jsonl"  # as `qinqing serve`
    return log_path, ledger_path


def verify(
    file: LogArgument = None,
    ledger: LedgerOption = None,
    key: KeyOption = None,
    head: Annotated[str | None, typer.Option(
        "--head", help="另行保存的某行哈希 / A line hash kept elsewhere: it must still be in the log."
    )] = None,
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", dir_okay=False,
        help="qinqing audit checkpoint 导出的文件 / A file from qinqing audit checkpoint.")] = None,
    lang: LangOption = "zh",
) -> None:
    """校验决策日志与账本未被修改、删除、调换或截断 / Verify the log and the ledger."""
    import sqlite3

    from checker.store.audit import AuditError, load_key
    from checker.store.audit_verify import read_checkpoint
    from checker.store.audit_verify import verify as verify_log

    lang = _lang(lang)
    log_path, ledger_path = _paths(file, ledger)
    try:
        chain_key = load_key(key, create=False)
        point = read_checkpoint(checkpoint.read_bytes(), chain_key) if checkpoint else None
        if ledger_path is not None and not ledger_path.exists():
            raise FileNotFoundError(2, "No such file or directory", str(ledger_path))
        report = verify_log(log_path, key=chain_key, head=head, ledger=ledger_path,
                            checkpoint=point)
    except AuditError as exc:
        _say(lang, exc.message_zh, exc.message_en, err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    except (OSError, sqlite3.Error) as exc:
        name = getattr(exc, "filename", None) or log_path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        _say(lang, f"无法读取 {name}：{reason}", f"Cannot read {name}: {reason}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    for problem in report.problems:
        typer.echo(problem.message(lang))
    for notice in report.notices:
        typer.echo(notice.message(lang))
    typer.echo(report.summary(lang))
    if not report.problems and report.head:
        _say(lang, f"末行哈希：{report.head}", f"Last hash: {report.head}")
    if report.ledger is not None:
        for line in report.ledger.integrity:
            _say(lang, f"SQLite 完整性检查：{line}", f"SQLite integrity check: {line}")
        for problem in report.ledger.problems:
            typer.echo(problem.message(lang))
        typer.echo(report.ledger.summary(lang))
    if not report.ok:
        raise typer.Exit(EXIT_TAMPERED)


def checkpoint(
    file: LogArgument = None,
    ledger: LedgerOption = None,
    key: KeyOption = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", dir_okay=False, help="写入文件（默认：标准输出）/ Write to a file.")] = None,
    lang: LangOption = "zh",
) -> None:
    """导出日志与账本的带 MAC 的末行（请保存到其他机器）/ Export the MACed heads of the log and
    the ledger (keep them on another machine)."""
    import sqlite3

    from checker.store.audit import AuditError, load_key
    from checker.store.audit_verify import make_checkpoint
    from checker.store.canonical import to_canonical_json

    lang = _lang(lang)
    log_path, ledger_path = _paths(file, ledger)
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    try:
        chain_key = load_key(key, create=False)
        point = make_checkpoint(log_path if log_path.exists() else None,
                                ledger_path if ledger_path and ledger_path.exists() else None,
                                chain_key, when)
        text = to_canonical_json(point) + "\n"
        if output is not None:
            output.write_text(text, encoding="utf-8")
    except AuditError as exc:
        _say(lang, exc.message_zh, exc.message_en, err=True)
        raise typer.Exit(EXIT_TAMPERED if exc.code == "bad_checkpoint" else EXIT_UNREADABLE) \
            from None
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        _say(lang, f"无法建立检查点：{reason}", f"Cannot make a checkpoint: {reason}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    if output is None:
        typer.echo(text, nl=False)
    else:
        _say(lang, f"检查点已写入 {output}；请把它保存到另一台机器上",
             f"Checkpoint written to {output}; keep it on another machine")


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="audit",
        help="决策日志与账本的防篡改校验 / Tamper evidence of the decision log and the ledger.",
        no_args_is_help=True,
    )
    group.command("verify")(verify)
    group.command("checkpoint")(checkpoint)
    app.add_typer(group, name="audit")
