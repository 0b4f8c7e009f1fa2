"""The conformance suite's data model, independent of any backend.

A case file (`tests/conformance/*.yaml`) holds `cases:`, each with

- `note`: what the case pins down;
- `policy`: the text of one policy file (its pack must be self-contained);
- `params` (optional): the baseline's `parameters:` map, written to `params/000000.yaml`;
- `profiles` (optional): other jurisdictions' profiles, `{code: {inherits?, parameters}}`;
- `schemas` (optional): record kind → JSON Schema, written beside the policy as
  `<kind>.schema.json` (a pack's own record kinds);
- `records`: records as JSON (dates and date-times as strings, money as numbers or decimal
  strings); `jurisdiction` (150302) and `date` (2024-06-01) default when absent, and for an
  interaction (no `record_kind`) `stage` and `official.id`; `id` defaults to r1, r2, …;
- `history` (optional): more records the run knows (not judged): what `lookup` and
  `records(…)` find besides the batch, as from `--history` or the ledger;
- `want`: per record id, `outcome`, `findings` (a list of `RULE outcome` or
  `RULE@element outcome`, in any order), and optionally `missing` (finding → the field paths
  named), `messages` (finding → `{zh, en}` of its `say`), `severities` (finding → severity),
  `suppressed` (`RULE@element` of findings an exception silenced).

A window (`window same … within N days`) holds the case's records with the same key values
whose date is in [date − N days, date], the record itself included.

`load_cases()` reads the files; `prepare()` writes a case's policy and parameters to a folder;
`normalise()` turns a JSON record into the values every backend computes with (Decimal
money, `datetime.date`, aware `datetime.datetime`).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from checker.schema import record_schema
from policy_dsl import types as ty

HERE = Path(__file__).parent
DEFAULTS = {"stage": "completed", "jurisdiction": "150302", "date": "2024-06-01"}


class _CaseLoader(yaml.SafeLoader):
    """Safe YAML where floats are exact decimals and dates stay strings (JSON-shaped)."""


_CaseLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CaseLoader.add_constructor(
    "tag:yaml.org,2002:float", lambda loader, node: Decimal(loader.construct_scalar(node)))


@dataclass
class Case:
    file: str
    index: int
    note: str
    policy: str
    params: dict
    profiles: dict
    records: list[dict]
    want: dict[str, dict]
    history: list[dict] = field(default_factory=list)
    schemas: dict = field(default_factory=dict)
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def name(self) -> str:
        return f"{Path(self.file).stem}[{self.index}] {self.note}"


def load_cases(folder: Path = HERE) -> list[Case]:
    out = []
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CaseLoader)
        for i, raw in enumerate(data["cases"]):
            records = [_defaults(rec, f"r{n}") for n, rec in enumerate(raw["records"], 1)]
            history = [_defaults(rec, f"h{n}") for n, rec in enumerate(raw.get("history") or (), 1)]
            out.append(Case(str(path), i, raw["note"], raw["policy"], raw.get("params") or {},
                            raw.get("profiles") or {}, records, raw.get("want") or {},
                            history, raw.get("schemas") or {}, raw))
    return out


def _defaults(rec: dict, default_id: str) -> dict:
    kind = rec.get("record_kind")
    if kind not in (None, "interaction"):
        return {"id": default_id, "jurisdiction": DEFAULTS["jurisdiction"], "date": DEFAULTS["date"],
                **copy.deepcopy(rec)}
    full = {"id": default_id, **DEFAULTS, **copy.deepcopy(rec)}
    full.setdefault("official", {})
    full["official"].setdefault("id", "O-1")
    return full


def prepare(case: Case, folder: Path) -> Path:
    """Write the case's policy, schema and parameter files into `folder`; returns the folder."""
    (folder / "params").mkdir(parents=True, exist_ok=True)
    (folder / "case.policy").write_text(case.policy, encoding="utf-8")
    for kind, schema in case.schemas.items():
        (folder / f"{kind}.schema.json").write_text(json.dumps(_jsonable(schema), ensure_ascii=False),
                                                    encoding="utf-8")
    base = {"jurisdiction": "000000", "name": {"zh": "测试", "en": "Test"},
            "parameters": _jsonable(case.params)}
    (folder / "params" / "000000.yaml").write_text(
        yaml.safe_dump(base, allow_unicode=True, sort_keys=True), encoding="utf-8")
    for code, prof in case.profiles.items():
        doc = {"jurisdiction": str(code), **_jsonable(prof)}
        (folder / "params" / f"{code}.yaml").write_text(
            yaml.safe_dump(doc, allow_unicode=True, sort_keys=True), encoding="utf-8")
    return folder


def _jsonable(x: Any) -> Any:
    """Decimals back to text for the parameter files (read again as exact decimals)."""
    if isinstance(x, Decimal):
        return str(x)
    if isinstance(x, (dt.date, dt.datetime)):
        return x.isoformat()
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    return x


def normalise(value: Any, t: ty.T | None = None) -> Any:
    """A JSON record → typed values: money and numbers Decimal, dates and date-times parsed."""
    t = t or ty.record_type(record_schema())
    if value is None:
        return None
    if t.kind == "object" and isinstance(value, dict):
        return {k: normalise(v, t.fields.get(k, ty.ANY)) for k, v in value.items()}
    if t.kind == "list" and isinstance(value, list):
        return [normalise(v, t.elem or ty.ANY) for v in value]
    if t.kind in ("money", "number"):
        return Decimal(str(value))
    if t.kind == "date":
        return dt.date.fromisoformat(str(value))
    if t.kind == "datetime":
        out = dt.datetime.fromisoformat(str(value))
        if out.tzinfo is None:
            raise ValueError(f"date-time without an offset: {value}")
        return out
    return value
