"""Facts for readers: record fields by their schema titles, values as JSON and as text.

`FieldLabels(schema)` names a record path (`meals[1].diners` → 用餐·用餐人数（meals[1].diners）)
and a fact of a finding's evidence from the schema's titles and enum labels; `fact_key` is the
key a fact has in a finding's evidence (the concrete record path of a field, else its source
text); `json_value` writes evidence values as JSON (exact decimals as strings, dates ISO).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import lru_cache
from typing import Any

from policy_dsl import ir
from policy_dsl.values import format_money, format_value

_PLAIN = frozenset({str, int, bool, float, type(None)})


_INT_RANGE = (-(1 << 63), 1 << 64)  # what JSON writers take as a number


def json_value(value: Any) -> Any:
    """Evidence values as JSON: exact decimals as strings, dates ISO; an integer beyond 64 bits
    (a record may hold one) as its digits."""
    if value.__class__ in _PLAIN:
        if value.__class__ is int and not _INT_RANGE[0] <= value < _INT_RANGE[1]:
            return str(value)
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, ir.Calendar):  # the days it covers and how many it names
        return {"covers": [[a.isoformat(), b.isoformat()] for a, b in value.spans],
                "holidays": len(value.holidays), "makeup_workdays": len(value.makeup_workdays)}
    return value


def fact_path(e: ir.Expr) -> tuple[str | None, str] | None:
    """A fact read by plain field accesses, as (its variable, or None for the record itself;
    the fields after it, `.payer` or `interaction.kind`); None for any other fact."""
    names: list[str] = []
    while isinstance(e, ir.Field):
        names.append(e.name)
        if e.base is None:
            return None, ".".join(reversed(names))
        e = e.base  # type: ignore[assignment]
    if isinstance(e, ir.Var) and names:
        return e.name, "." + ".".join(reversed(names))
    return None


def fact_key(label: str, path: tuple[str | None, str] | None, paths: dict) -> str:
    """The key of a fact in a finding's evidence: the record field's concrete path when the fact
    is one (`meals[0].payer` for `m.payer`, like the paths of missing facts), else its source text."""
    if path is None:
        return label
    var, rest = path
    if var is None:
        return rest
    base = paths.get(var)
    return label if base is None else base + rest


_OTHER_RECORD = re.compile(r"([a-z_]+)\[(.+)\]\Z")  # `KIND[id]`: a record of another kind


class FieldLabels:
    """Titles and enum labels of a record schema's fields, by record path."""

    def __init__(self, schema: dict, kinds: dict | None = None):
        self.schema = schema
        self._nodes: dict[str, tuple[tuple[str, dict], ...] | None] = {}
        self._labels: dict[tuple[str, str], str] = {}
        self._kinds = kinds or {}  # record kind → schema, for records of other kinds
        self._others: dict[str, FieldLabels] = {}

    def for_record(self, r: dict) -> FieldLabels:
        """The labels of a record's own kind (`record_kind`; absent: these)."""
        kind = r.get("record_kind")
        if kind is None or kind not in self._kinds or self._kinds[kind] is self.schema:
            return self
        hit = self._others.get(kind)
        if hit is None:
            hit = self._others[kind] = FieldLabels(self._kinds[kind])
        return hit

    def field_label(self, path: str, lang: str) -> str:
        """`meals[1].diners` → 用餐·用餐人数（meals[1].diners）; a path the schema lacks, as it is."""
        hit = self._labels.get((path, lang))
        if hit is None:
            nodes = self._field_nodes(path)
            other = _OTHER_RECORD.match(path) if nodes is None else None
            if other is not None and other.group(1) in self._kinds:  # a record a lookup did not find
                schema = self._kinds[other.group(1)]
                if lang == "zh":
                    hit = f"{schema.get('x-title-zh') or schema.get('title') or other.group(1)}记录 {other.group(2)}"
                else:
                    hit = f"{(schema.get('title') or other.group(1)).lower()} record {other.group(2)}"
            elif nodes is None:
                hit = path
            else:
                key = "x-title-zh" if lang == "zh" else "title"
                words = [node.get(key) or name for name, node in nodes]
                label = "·".join(words) if lang == "zh" else " › ".join(words)
                hit = f"{label}（{path}）" if lang == "zh" else f"{label} ({path})"
            if len(self._labels) < 65_536:
                self._labels[(path, lang)] = hit
        return hit

    def actionable(self, path: str) -> bool:
        """Whether advice may ask to change this field: no field on its path is marked
        `"x-actionable": false` in the schema."""
        nodes = self._field_nodes(path)
        return nodes is None or all(node.get("x-actionable", True) is not False for _, node in nodes)

    def fact_text(self, key: str, value: Any, lang: str) -> str:
        """One fact of a finding's evidence for a reader: a record field by its schema title and
        path, an enum value by its label, yes/no, exact decimals; other facts by their source text."""
        nodes = self._field_nodes(key)
        labels = None
        if nodes is not None:
            node = self._deref(nodes[-1][1])
            labels = node.get("x-enum-labels") or self._deref(self._items(node)).get("x-enum-labels")
        if isinstance(value, dict):
            shown = "; ".join(f"{k}={format_value(v, None, lang)}" for k, v in value.items())
        else:
            shown = format_value(value, labels, lang)
        return f"{self.field_label(key, lang)} = {shown}"

    def _field_nodes(self, path: str) -> tuple[tuple[str, dict], ...] | None:
        """The schema node of each field named on a record path (indices skipped), or None when
        the schema has no such field."""
        if path in self._nodes:
            return self._nodes[path]
        out: tuple[tuple[str, dict], ...] | None = None
        if not path.startswith("param."):
            out = self._walk(path)
        if len(self._nodes) < 65_536:
            self._nodes[path] = out
        return out

    def _walk(self, path: str) -> tuple[tuple[str, dict], ...] | None:
        node: Any = self.schema
        out = []
        for part in re.findall(r"[A-Za-z_]\w*|\[\d+\]|\S", path):
            if part[0] == "[" and len(part) > 1:  # an index
                continue
            if not (part[0].isalpha() or part[0] == "_"):
                if part != ".":
                    return None  # an expression (`per_person_cny(m)`), not a path
                continue
            node = self._deref(node).get("properties", {}).get(part) if node is not None else None
            if node is None:
                return None
            out.append((part, node))
            node = self._items(node)
        return tuple(out) or None

    def _deref(self, node: dict) -> dict:
        if "$ref" in node:
            return self.schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        if "anyOf" in node:
            for alt in node["anyOf"]:
                if alt.get("type") != "null":
                    return self._deref(alt)
        return node

    def _items(self, node: dict) -> dict:
        n = self._deref(node)
        return n.get("items", n) if "items" in n else n


class FactReader:
    """Facts for readers in one language: a record field by its schema title and path, a derived
    value by its definition's title, a parameter by its title; money with two decimals, enum
    values by their labels, an empty list as none. Never the expression text when a title exists."""

    def __init__(self, fields: FieldLabels, lang: str, define_titles: dict[str, tuple[str, str]],
                 param_decls: dict):
        self.fields, self.lang = fields, lang
        self.i = 0 if lang == "zh" else 1
        self.defines = define_titles
        self.params = param_decls
        self._titles: dict[str, str] = {}

    def title(self, key: str) -> str:
        """What a fact is called: `人均费用`, `工作餐人均标准（含本数）`, `用餐·付款方（meals[0].payer）`."""
        hit = self._titles.get(key)
        if hit is not None:
            return hit
        hit = key
        if key.startswith("param."):
            decl = self.params.get(key[6:])
            if decl is not None and decl.title:
                hit = decl.title[self.i] or decl.title[0]
        else:
            name = key.split("(", 1)[0]
            if name in self.defines and re.fullmatch(r"[A-Za-z_]\w*(\(.*\))?", key):
                hit = self.defines[name][self.i]
            else:
                hit = self.fields.field_label(key, self.lang)
        if len(self._titles) < 65_536:
            self._titles[key] = hit
        return hit

    def question(self, path: str) -> str:
        """A missing fact as asked: a record field by its title and path, a parameter as one
        (`参数·国有企业纪念品每人每次上限（param.soe_souvenir_cap_cny）`)."""
        if path.startswith("param."):
            title = self.title(path)
            return f"参数·{title}（{path}）" if self.lang == "zh" else f"Parameter › {title} ({path})"
        return self.fields.field_label(path, self.lang)

    def value(self, value: Any, t: Any = None, path: str | None = None) -> str:
        """A fact's value as text (`t` its type when known, `path` its record path)."""
        zh = self.lang == "zh"
        if isinstance(value, (list, tuple)) and not value:
            return "无" if zh else "none"
        if isinstance(value, dict):
            parts = []
            for k, x in value.items():
                sub = f"{path}.{k}" if path else k
                nodes = self.fields._field_nodes(sub) if path else None
                name = (nodes[-1][1].get("x-title-zh" if zh else "title") or k) if nodes else k
                parts.append(f"{name} {self.value(x, None, sub if nodes else None)}")
            return ("，" if zh else ", ").join(parts)
        kind = getattr(t, "kind", None)
        if kind == "money" or kind is None and path and self._is_money(path):
            return format_money(value, self.lang)
        labels = None
        if t is not None:
            labels = t.labels if kind == "enum" else (
                t.elem.labels if kind == "list" and t.elem is not None and t.elem.kind == "enum" else None)
        elif path:
            labels = self._enum_labels(path)
        return format_value(value, labels, self.lang)

    def fact(self, key: str, value: Any, expr: Any = None) -> str:
        path = key if self.fields._field_nodes(key) is not None else None
        return f"{self.title(key)} = {self.value(value, getattr(expr, 'type', None), path)}"

    def _is_money(self, path: str) -> bool:
        nodes = self.fields._field_nodes(path)
        if nodes is None:
            return False
        node = self.fields._deref(nodes[-1][1])
        return node.get("x-error-code") == "money" or "money" in str(nodes[-1][1].get("$ref", ""))

    def _enum_labels(self, path: str) -> dict | None:
        nodes = self.fields._field_nodes(path)
        if nodes is None:
            return None
        node = self.fields._deref(nodes[-1][1])
        return node.get("x-enum-labels") or self.fields._deref(self.fields._items(node)).get("x-enum-labels")


@lru_cache(maxsize=1)
def bundled() -> FieldLabels:
    """The labels of the bundled record schema."""
    from checker.schema import record_schema

    return FieldLabels(record_schema())
