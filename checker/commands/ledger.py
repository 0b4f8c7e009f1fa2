"""`qinqing ledger add|list|count|check|backup`: record completed interactions in the ledger,
check its integrity and hash chain, copy it while it is in use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXIT_OK, EXIT_REJECTED, EXIT_UNREADABLE = 0, 1, 2

LedgerOption = Annotated[
    Path | None,
    typer.Option(
        "--ledger",
        help="账本文件（默认在用户数据目录）/ Ledger file (default: the user data directory).",
        dir_okay=False,
    ),
]
LangOption = Annotated[
    str,
    typer.Option("--lang", help="输出语言 zh|en / Output language.", case_sensitive=False),
]


def _lang(value: str) -> str:
    value = value.lower()
    if value not in ("zh", "en"):
        raise typer.BadParameter("zh | en", param_hint="--lang")
    return value


def _t(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def _open(path: Path | None, lang: str, *, create: bool, key: Path | None = None):  # -> Ledger
    from checker.store.ledger import Ledger, LedgerError, default_ledger_path

    try:
        return Ledger(path or default_ledger_path(), create=create, key=key)
    except LedgerError as exc:
        typer.echo(exc.message(lang), err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None


def add(
    files: Annotated[
        list[Path], typer.Argument(help="记录文件 / Record files.", show_default=False)
    ],
    ledger: LedgerOption = None,
    input_format: Annotated[
        str | None,
        typer.Option(
            "--input-format",
            help="输入格式（默认按扩展名）/ Input format (default: by extension).",
        ),
    ] = None,
    lang: LangOption = "zh",
) -> None:
    """导入已完成的交往记录；每个文件一个事务 / Add records, one transaction per file."""
    from checker.store.ledger import LedgerError
    from checker.input.records import InputError, iter_records

    lang = _lang(lang)
    from checker.input.kinds import kind_validator
    from checker.schema import bundled_schemas

    validator = kind_validator(bundled_schemas())  # records of every bundled kind
    added = rejected = unreadable = records_added = 0
    with _open(ledger, lang, create=True) as store:
        for path in files:
            name = "<stdin>" if str(path) == "-" else str(path)
            warnings: list = []
            try:
                count = store.add_records(
                    iter_records([str(path)], input_format=input_format, validator=validator,
                                 warnings=warnings),
                    source=name,
                )
            except LedgerError as exc:
                rejected += 1
                typer.echo(exc.describe(lang), err=True)
            except InputError as exc:
                unreadable += 1
                typer.echo(exc.message(lang), err=True)
            except OSError as exc:
                unreadable += 1
                reason = exc.strerror or str(exc)
                typer.echo(
                    _t(lang, f"无法读取 {name}：{reason}", f"Cannot read {name}: {reason}"),
                    err=True,
                )
            else:
                for w in warnings:  # unknown spreadsheet columns, respelt values
                    typer.echo(_t(lang, f"注意：{w.message_zh}", f"Note: {w.message_en}"), err=True)
                added += 1
                records_added += count
                typer.echo(
                    _t(lang, f"已导入 {name}：{count} 条记录", f"Added {name}: {count} records")
                )
        total = store.count()
        where = store.path
    typer.echo(
        _t(
            lang,
            f"共导入 {records_added} 条记录（{added} 个文件）；拒绝 {rejected} 个文件；"
            f"无法读取 {unreadable} 个文件。账本 {where} 现有 {total} 条记录。",
            f"Added {records_added} records from {added} files; {rejected} files rejected; "
            f"{unreadable} files unreadable. Ledger {where} now holds {total} records.",
        )
    )
    if unreadable:
        raise typer.Exit(EXIT_UNREADABLE)
    if rejected:
        raise typer.Exit(EXIT_REJECTED)


def list_(
    official: Annotated[
        str | None,
        typer.Option("--official", help="只列出该公职人员编号 / Only this official id."),
    ] = None,
    ledger: LedgerOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="每行输出一条完整记录的 JSON / One full record per line as JSON."
        ),
    ] = False,
    lang: LangOption = "zh",
) -> None:
    """列出账本中的记录 / List the records in the ledger."""
    from checker.store.ledger import to_canonical_json

    lang = _lang(lang)
    with _open(ledger, lang, create=False) as store:
        if as_json:
            ids = [row.id for row in store.rows(official)]
            for rid in ids:
                record = store.get(rid)
                if record is not None:
                    typer.echo(to_canonical_json(record))
            return
        rows = list(store.rows(official))
    if not rows:
        typer.echo(_t(lang, "账本中没有记录", "The ledger holds no records"))
        return
    header = _t(
        lang,
        "编号\t日期\t公职人员\t阶段\t地区\t来源文件",
        "id\tdate\tofficial\tstage\tjurisdiction\tsource",
    )
    typer.echo(header)
    for row in rows:
        typer.echo(
            f"{row.id}\t{row.date.isoformat()}\t{row.official_id}\t{row.stage}\t"
            f"{row.jurisdiction}\t{row.source}"
        )
    typer.echo(_t(lang, f"共 {len(rows)} 条记录", f"{len(rows)} records"))


def count(ledger: LedgerOption = None, lang: LangOption = "zh") -> None:
    """账本中的记录数 / Number of records in the ledger."""
    lang = _lang(lang)
    with _open(ledger, lang, create=False) as store:
        total = store.count()
    typer.echo(_t(lang, f"账本共有 {total} 条记录", f"The ledger holds {total} records"))


KeyOption = Annotated[Path | None, typer.Option(
    "--key", dir_okay=False, help="链密钥文件 / Chain key file (default: QINQING_KEY_FILE or "
                                  "chain.key in the user configuration folder).")]


def check(ledger: LedgerOption = None, key: KeyOption = None, lang: LangOption = "zh") -> None:
    """SQLite 完整性检查与哈希链校验 / SQLite integrity check and hash chain (exit 1 when
    either fails)."""
    import sqlite3

    from checker.store.audit import AuditError, load_key
    from checker.store.ledger import default_ledger_path
    from checker.store.ledger_chain import check_ledger

    lang = _lang(lang)
    path = ledger or default_ledger_path()
    if not path.exists():
        typer.echo(_t(lang, f"账本不存在：{path}", f"Ledger not found: {path}"), err=True)
        raise typer.Exit(EXIT_UNREADABLE)
    try:
        report = check_ledger(path, load_key(key, create=False))
    except AuditError as exc:
        typer.echo(exc.message(lang), err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    except (sqlite3.Error, OSError) as exc:
        typer.echo(_t(lang, f"无法读取账本 {path}：{exc}", f"Cannot read ledger {path}: {exc}"),
                   err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    for line in report.integrity:
        typer.echo(_t(lang, f"SQLite 完整性检查：{line}", f"SQLite integrity check: {line}"))
    for problem in report.problems:
        typer.echo(problem.message(lang))
    typer.echo(report.summary(lang))
    if not report.ok:
        raise typer.Exit(EXIT_REJECTED)


def backup(
    target: Annotated[Path, typer.Argument(help="备份文件（不能已存在）/ Backup file (must not exist).",
                                           dir_okay=False)],
    ledger: LedgerOption = None,
    lang: LangOption = "zh",
) -> None:
    """在线备份账本（服务运行时也可）/ Copy the ledger while it is in use (SQLite backup API)."""
    import sqlite3

    from checker.store.ledger import default_ledger_path
    from checker.store.ledger_chain import backup as copy

    lang = _lang(lang)
    path = ledger or default_ledger_path()
    if not path.exists():
        typer.echo(_t(lang, f"账本不存在：{path}", f"Ledger not found: {path}"), err=True)
        raise typer.Exit(EXIT_UNREADABLE)
    try:
        size = copy(path, target)
    except FileExistsError:
        typer.echo(_t(lang, f"{target} 已存在；不会覆盖", f"{target} exists; not overwritten"),
                   err=True)
        raise typer.Exit(EXIT_REJECTED) from None
    except (sqlite3.Error, OSError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        typer.echo(_t(lang, f"备份失败：{why}", f"Backup failed: {why}"), err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    typer.echo(_t(lang, f"已备份到 {target}（{size} 字节）", f"Backed up to {target} ({size} bytes)"))


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="ledger",
        help="交往记录账本 / The ledger of recorded interactions.",
        no_args_is_help=True,
    )
    group.command("add")(add)
    group.command("list")(list_)
    group.command("count")(count)
    group.command("check")(check)
    group.command("backup")(backup)
    app.add_typer(group, name="ledger")
