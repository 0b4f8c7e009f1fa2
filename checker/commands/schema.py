"""`qinqing schema [KIND]`: print a record kind's JSON Schema (the field contract of its records);
`--list` the kinds known (bundled, shipped beside the packs of `--rules`, given with `--schema`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from checker.commands.schemas import SCHEMA_HELP


def _write(text: str) -> None:
    out = sys.stdout
    buffer = getattr(out, "buffer", None)
    if buffer is None:  # a text-only stream
        out.write(text)
        return
    out.flush()
    buffer.write(text.encode("utf-8"))  # UTF-8 whatever the locale
    buffer.flush()


def known_kinds(rules: list[Path] | None, extra: dict) -> tuple[dict[str, dict], dict[str, str]]:
    """(kind → schema, kind → where it comes from): bundled, then beside the packs, then given."""
    from checker.schema import bundled_schemas
    from policy_dsl.kinds import discover_schemas, load_schema_files

    schemas = dict(bundled_schemas())
    where = {k: "bundled" for k in schemas}
    if rules:
        diags: list = []
        local = load_schema_files(discover_schemas(list(rules)), diags)
        if diags:
            for d in diags:
                sys.stderr.write(f"{d.span.file}: error[{d.code}]: {d.message}\n")
            raise typer.Exit(2)
        for k, s in local.items():
            schemas[k] = s
            where[k] = "pack"
    for k, s in extra.items():
        schemas[k] = s
        where[k] = "--schema"
    return schemas, where


def register(app: typer.Typer) -> None:
    @app.command("schema")
    def schema(
        kind: Optional[str] = typer.Argument(None, help="记录类型（默认 interaction）/ record kind (default: interaction)"),
        list_kinds: bool = typer.Option(False, "--list", help="列出记录类型 / list the record kinds"),
        rules: Optional[List[Path]] = typer.Option(None, "--rules", help="规则目录：其中的 *.schema.json / policy folders: their *.schema.json"),
        schema_files: Optional[List[Path]] = typer.Option(None, "--schema", help=SCHEMA_HELP),
        lang: str = typer.Option("zh", "--lang", help="zh|en"),
    ) -> None:
        """打印记录的 JSON Schema / Print a record kind's JSON Schema (draft 2020-12)."""
        import json

        from checker.commands.schemas import read_schemas
        from checker.schema import schema_text

        extra = read_schemas(schema_files, lang)
        if kind is None and not list_kinds and not rules and not extra:
            _write(json.dumps(json.loads(schema_text("interaction")), ensure_ascii=False, indent=2) + "\n")
            return
        schemas, where = known_kinds(rules, extra)
        if list_kinds:
            lines = []
            for k in schemas:
                s = schemas[k]
                title = s.get("x-title-zh") if lang == "zh" else s.get("title")
                fields = len(s.get("properties") or {})
                lines.append(f"{k}\t{title or ''}\t{fields}\t{where[k]}")
            head = "记录类型\t名称\t字段\t来源" if lang == "zh" else "kind\ttitle\tfields\tsource"
            _write("\n".join([head, *lines]) + "\n")
            return
        name = kind or "interaction"
        if name not in schemas:
            from policy_dsl.errors import did_you_mean

            best = did_you_mean(name, schemas)
            hint = (f"；是否为 `{best}`？" if lang == "zh" else f"; did you mean `{best}`?") if best else ""
            sys.stderr.write((f"未知的记录类型 `{name}`{hint}（qinqing schema --list）" if lang == "zh" else
                              f"unknown record kind `{name}`{hint} (qinqing schema --list)") + "\n")
            raise typer.Exit(2)
        _write(json.dumps(schemas[name], ensure_ascii=False, indent=2) + "\n")
