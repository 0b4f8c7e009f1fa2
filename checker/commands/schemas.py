"""Record schemas named on the command line (`--schema S.json`, repeatable) for `lint`, `check`,
`test`, `docs` and `schema`: read, checked (metaschema, draft 2020-12, no remote references),
named by their kind (`x-record-kind`, else the const of `record_kind`, else `interaction`,
which they then replace); a problem is reported and the command exits with 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

MAX_SCHEMA_BYTES = 4 * 1024 * 1024

SCHEMA_HELP = ("记录的 JSON Schema（可重复）：新的记录类型，或替换同名类型 / a record JSON Schema "
               "(repeatable): a new record kind, or one replacing the kind it names")


def _fail(lang: str, zh: str, en: str) -> None:
    sys.stderr.write((zh if lang == "zh" else en) + "\n")
    raise typer.Exit(2)


def read_schemas(paths: list[Path] | None, lang: str = "zh") -> dict[str, dict]:
    """`{kind: schema}` of the files given (empty without any)."""
    from checker.input.schemas import SchemaError
    from checker.input.validate import validator_for
    from policy_dsl.kinds import KIND_NAME, kind_of

    out: dict[str, dict] = {}
    for path in paths or ():
        try:
            data = path.read_bytes()
            if len(data) > MAX_SCHEMA_BYTES:
                raise ValueError(f"larger than {MAX_SCHEMA_BYTES // (1024 * 1024)} MiB")
            schema = json.loads(data.decode("utf-8-sig"))
        except OSError as exc:
            _fail(lang, f"无法读取记录模式 {path}：{exc.strerror}", f"cannot read record schema {path}: {exc.strerror}")
        except ValueError as exc:
            _fail(lang, f"记录模式 {path} 不是有效的 JSON：{exc}", f"record schema {path} is not valid JSON: {exc}")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            _fail(lang, f"记录模式 {path} 应描述一个对象（\"type\": \"object\"）",
                  f"record schema {path} must describe an object (\"type\": \"object\")")
        try:
            validator_for(schema, str(path))
        except SchemaError as exc:
            _fail(lang, f"记录模式不可用：{exc.message('zh')}", f"unusable record schema: {exc.message('en')}")
        kind = kind_of(schema, "interaction")  # unnamed: the interaction schema it replaces
        if not KIND_NAME.match(kind):
            _fail(lang, f"记录模式 {path} 的类型名 `{kind}` 无效（小写字母、数字和下划线）",
                  f"record schema {path}: kind `{kind}` is not a lower-case name")
        if kind in out:
            _fail(lang, f"记录类型 `{kind}` 给出了两个模式", f"two schemas for record kind `{kind}`")
        out[kind] = schema
    return out
