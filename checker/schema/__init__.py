"""The bundled record JSON Schemas, one per record kind, read once.

`record.schema.json` describes interactions (the default kind: a record without
`record_kind`); `<kind>.schema.json` the other kinds of `record-kinds.md` (tolerance filings,
complaints, unit ratings, licensing matters, problem items). Each schema names its kind in
`x-record-kind`. Packs may ship more (`policy_dsl.kinds`).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

INTERACTION = "interaction"
KINDS = ("interaction", "tolerance_filing", "complaint", "unit_rating", "licensing_matter", "problem_item")


def _file(kind: str) -> str:
    return "record.schema.json" if kind == INTERACTION else f"{kind}.schema.json"


@lru_cache(maxsize=None)
def kind_schema(kind: str) -> dict:
    """The bundled schema of one kind (KeyError for an unknown kind). Callers must not change it."""
    if kind not in KINDS:
        raise KeyError(kind)
    return json.loads(resources.files(__package__).joinpath(_file(kind)).read_text("utf-8"))


def record_schema() -> dict:
    """The interaction record schema (draft 2020-12). Callers must not change it."""
    return kind_schema(INTERACTION)


@lru_cache(maxsize=1)
def bundled_schemas() -> dict[str, dict]:
    """Every bundled kind → its schema, interaction first."""
    return {k: kind_schema(k) for k in KINDS}


def schema_text(kind: str) -> str:
    """The schema file of a bundled kind, as shipped."""
    if kind not in KINDS:
        raise KeyError(kind)
    return resources.files(__package__).joinpath(_file(kind)).read_text("utf-8")
