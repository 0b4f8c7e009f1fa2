"""Record kinds: which JSON Schema describes the records a rule judges.

A record says its kind in `record_kind` (absent: `interaction`). Each kind has its own JSON
Schema; the caller passes the schemas it knows (`load(paths, schemas)`: one schema, or a
mapping of kind → schema), and a pack may ship more as `<name>.schema.json` files beside it
(in its folder or below). A schema names its kind in `x-record-kind` at its root (else the
`const` or single `enum` value of its `record_kind` property, else the file name before
`.schema.json`); a schema for a kind already known replaces it.

Only JSON parsing and the kind's name are done here: the checker validates schemas (metaschema,
draft, no remote references) before it validates records against them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import Diagnostic, Span
from .ir import DEFAULT_KIND

SCHEMA_SUFFIX = ".schema.json"
MAX_SCHEMA_BYTES = 4 * 1024 * 1024
KIND_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def is_schema(x: Any) -> bool:
    """Whether `x` is one JSON Schema (not a mapping of kinds to schemas)."""
    return isinstance(x, Mapping) and any(k in x for k in ("$schema", "type", "properties", "$defs", "$ref"))


def kind_of(schema: Mapping, fallback: str = DEFAULT_KIND) -> str:
    """The record kind a schema describes."""
    name = schema.get("x-record-kind")
    if isinstance(name, str):
        return name
    prop = (schema.get("properties") or {}).get("record_kind")
    if isinstance(prop, Mapping):
        if isinstance(prop.get("const"), str):
            return prop["const"]
        enum = [v for v in prop.get("enum") or () if v is not None]
        if len(enum) == 1 and isinstance(enum[0], str):
            return enum[0]
    return fallback


def as_kinds(schema: Any) -> dict[str, dict]:
    """`{kind: schema}` from one schema or from such a mapping."""
    if schema is None:
        return {}
    if is_schema(schema):
        return {kind_of(schema): schema}  # type: ignore[dict-item]
    return dict(schema)


def discover_schemas(paths: list[str | Path]) -> list[Path]:
    """The `*.schema.json` files under the given folders (and beside the given files)."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob(f"*{SCHEMA_SUFFIX}") if q.is_file()))
        elif p.is_file() and p.name.endswith(SCHEMA_SUFFIX):
            found.append(p)
    seen: set[Path] = set()
    out = []
    for p in found:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            out.append(p)
    return out


def load_schema_files(paths: list[Path], diags: list[Diagnostic],
                      sources: dict[str, str] | None = None) -> dict[str, dict]:
    """The kinds described by schema files; a file that cannot be used is reported (E122)."""
    out: dict[str, dict] = {}
    where: dict[str, str] = {}
    for path in paths:
        file = str(path)
        span = Span(file, 1, 1, 1, 2)
        try:
            data = path.read_bytes()
            if len(data) > MAX_SCHEMA_BYTES:
                raise ValueError(f"larger than {MAX_SCHEMA_BYTES // (1024 * 1024)} MiB")
            text = data.decode("utf-8-sig")
            schema = json.loads(text)
        except (OSError, ValueError) as exc:
            msg = getattr(exc, "strerror", None) or str(exc)
            diags.append(Diagnostic("E122", f"cannot read record schema: {msg}", span,
                                    "a record schema is a JSON Schema (draft 2020-12) in UTF-8"))
            continue
        if sources is not None:
            sources[file] = text
        if not isinstance(schema, dict) or schema.get("type") != "object":
            diags.append(Diagnostic("E122", "a record schema describes an object (`\"type\": \"object\"`)",
                                    span, "see checker/schema/record.schema.json for an example"))
            continue
        stem = path.name[: -len(SCHEMA_SUFFIX)]
        kind = kind_of(schema, stem)
        if not KIND_NAME.match(kind):
            diags.append(Diagnostic("E122", f"record kind `{kind}` is not a lower-case name", span,
                                    'name the kind with `"x-record-kind": "permit_application"`'))
            continue
        if kind in out:
            diags.append(Diagnostic("E122", f"two schemas for record kind `{kind}`", span,
                                    f"the other is {where[kind]}"))
            continue
        out[kind] = schema
        where[kind] = file
    return out
