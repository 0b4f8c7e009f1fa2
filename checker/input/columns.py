"""Spreadsheet columns of a record schema: which header or sheet name means which field.

`ColumnMap(schema)` lists the fields of any record schema as spreadsheet columns, in the
schema's order: every property on a dotted path (`official.rank`), objects too (a JSON cell),
and, through a list of objects, the fields of its elements (`meals.payer`: one element per
row, see `checker.input.assemble`). A column header may be written as the dotted path, as
the path of Chinese titles (`公职人员·职级`, the `x-title-zh` of each step joined by `·`) or
as the path of English titles (`Official › Rank`); case, spaces, full-width forms and the
separators `· ・ • › > .` do not matter, a trailing `*` (required mark) is dropped, and a
header followed by its path in brackets (`职级（official.rank）`) means that path. A list of
objects may also have a sheet of its own, named after the list (`用餐`, `meals`,
`Meals`, `enterprise.pending_matters`, `待办事项` …), whose columns are its element fields
(`付款方`, `payer`, or the full header) and the record id.

Headers nothing here knows get a did-you-mean (`suggest`) over the headers it does know.
Nothing in this module names a field of the interaction schema: it reads titles, types,
formats, enums and `x-enum-labels` from whatever schema it is given.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AUX_SHEETS", "RECORD_SHEETS", "ColumnMap", "Field", "ListOf", "norm"]

# Sheets of the fill-in workbook (`checker.input.template`) that hold no records.
AUX_SHEETS = {"zh": ("填写说明", "选项"), "en": ("Instructions", "Options")}
# Names the records sheet is known by (else: the first sheet that is not a list or aux sheet).
RECORD_SHEETS = {"zh": "记录", "en": "Records"}

_SEPARATORS = str.maketrans({c: "." for c in "·・•›>‧"})
_BRACKETED = re.compile(r"^(.*?)\s*[（(]\s*([A-Za-z_][A-Za-z0-9_.]*)\s*[)）]\s*$")


def norm(text: str) -> str:
    """A header or sheet name as compared: NFKC, case-folded, no spaces, one separator."""
    s = unicodedata.normalize("NFKC", text).casefold().translate(_SEPARATORS)
    s = "".join(s.split()).rstrip("*")
    return re.sub(r"\.+", ".", s).strip(".")


@dataclass(frozen=True, slots=True)
class Field:
    """One column: a field of the record (or of an element of a list of objects)."""

    path: tuple[str, ...]  # through a list: ("meals", "payer")
    kind: str  # string|boolean|integer|number|money|date|datetime|list|json|any
    title_zh: tuple[str, ...]  # the titles of each step
    title_en: tuple[str, ...]
    description_zh: str = ""
    description_en: str = ""
    enum: tuple[str, ...] = ()  # allowed text values (of the items, for a list of values)
    labels: dict = field(default_factory=dict, compare=False, hash=False)  # value -> {zh, en}
    list_path: tuple[str, ...] | None = None  # the list of objects this is an element field of
    required: bool = False  # required where it stands (in the record, or in an element)
    nullable: bool = True
    is_array: bool = False  # a list (of values or of objects): `无` / `none` is an empty one

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def relative(self) -> tuple[str, ...]:
        """The path inside an element (the whole path for a record field)."""
        return self.path[len(self.list_path):] if self.list_path else self.path

    def header(self, lang: str, relative: bool = False) -> str:
        """The header the template writes: titles joined by `·` (zh) or ` › ` (en)."""
        titles = self.title_zh if lang == "zh" else self.title_en
        if relative and self.list_path:
            titles = titles[len(self.list_path):]
        return "·".join(titles) if lang == "zh" else " › ".join(titles)

    def description(self, lang: str) -> str:
        return self.description_zh if lang == "zh" else self.description_en

    def label(self, value: str, lang: str) -> str:
        """An enum value's label in `lang` (the value itself without one)."""
        entry = self.labels.get(value) or {}
        return entry.get(lang) or value


@dataclass(frozen=True, slots=True)
class ListOf:
    """A list of objects: a JSON cell, element columns on extra rows, or a sheet of its own."""

    path: tuple[str, ...]
    title_zh: tuple[str, ...]
    title_en: tuple[str, ...]
    description_zh: str = ""
    description_en: str = ""
    fields: tuple[Field, ...] = ()

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    def title(self, lang: str) -> str:
        titles = self.title_zh if lang == "zh" else self.title_en
        return "·".join(titles) if lang == "zh" else " › ".join(titles)


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a header names: a field, the record id on a list sheet, or nothing known."""

    field: Field | None
    record_id: bool = False


class ColumnMap:
    """The columns and list sheets of one record schema."""

    def __init__(self, schema: dict) -> None:
        self.schema = schema
        self.fields: list[Field] = []
        self.lists: list[ListOf] = []
        self._walk(schema, (), (), (), None, 0)
        self.by_path = {f.path: f for f in self.fields}
        self._headers = self._aliases(self.fields, relative=False)
        self._list_headers: dict[tuple[str, ...], dict[str, Field | None]] = {}
        self._sheets = self._sheet_aliases()
        self.id_field = self.by_path.get(("id",))
        self._id_aliases = {norm(a) for a in ("id", "记录编号", "Record id")}
        if self.id_field is not None:
            self._id_aliases |= {norm(self.id_field.header(lang)) for lang in ("zh", "en")}
        self.required_top = tuple(k for k in schema.get("required") or () if k != "id")

    # ---------------------------------------------------------------- the schema

    def _deref(self, node: Any, seen: int = 0) -> dict:
        """The schema a property stands for: its `$ref` target, the one non-null branch of an
        `anyOf`/`oneOf`, its own keywords on top (titles, descriptions, enums, labels)."""
        if not isinstance(node, dict) or seen > 20:
            return {}
        out = dict(node)
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = self.schema
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, dict) else None
            base = self._deref(target, seen + 1)
            out = {**base, **{k: v for k, v in node.items() if k != "$ref"}}
        for kw in ("anyOf", "oneOf"):
            branches = out.get(kw)
            if isinstance(branches, list):
                real = [b for b in branches
                        if not (isinstance(b, dict) and b.get("type") == "null")]
                if len(real) == 1:
                    base = self._deref(real[0], seen + 1)
                    rest = {k: v for k, v in out.items() if k != kw}
                    out = {**base, **rest}
                    if len(real) < len(branches):
                        out["x-nullable"] = True
        return out

    @staticmethod
    def _types(node: dict) -> list[str]:
        t = node.get("type", [])
        return [t] if isinstance(t, str) else list(t) if isinstance(t, list) else []

    def _kind(self, node: dict) -> str:
        if node.get("x-normalise") == "decimal":
            return "money"
        if node.get("format") == "date":
            return "date"
        if node.get("format") == "date-time":
            return "datetime"
        types = self._types(node)
        if "array" in types:
            items = self._deref(node.get("items"))
            item_types = self._types(items)
            if items and "properties" not in items and set(item_types) <= {"string", "null"} \
                    and item_types and not items.get("format"):
                return "list"
            return "json"
        if "object" in types or "properties" in node:
            return "json"
        for t in ("boolean", "integer", "number", "string"):
            if t in types:
                return t
        if "enum" in node and all(isinstance(v, str) or v is None for v in node["enum"]):
            return "string"
        return "any"

    def _walk(self, node: dict, prefix: tuple, zh: tuple, en: tuple,
              list_path: tuple | None, depth: int) -> None:
        node = self._deref(node)
        required = set(node.get("required") or ())
        for key, raw in (node.get("properties") or {}).items():
            if not isinstance(raw, dict):
                continue
            prop = self._deref(raw)
            path = (*prefix, key)
            tz = (*zh, str(prop.get("x-title-zh") or prop.get("title") or key))
            te = (*en, str(prop.get("title") or key))
            kind = self._kind(prop)
            values_node = self._deref(prop.get("items")) if kind == "list" else prop
            enum = tuple(v for v in values_node.get("enum") or () if isinstance(v, str))
            labels = values_node.get("x-enum-labels") or prop.get("x-enum-labels") or {}
            f = Field(path, kind, tz, te, str(prop.get("x-description-zh") or ""),
                      str(prop.get("description") or ""), enum,
                      labels if isinstance(labels, dict) else {}, list_path, key in required,
                      "null" in self._types(prop) or bool(prop.get("x-nullable"))
                      or None in (prop.get("enum") or ()), "array" in self._types(prop))
            self.fields.append(f)
            if depth > 8:
                continue
            if "properties" in prop:
                self._walk(prop, path, tz, te, list_path, depth + 1)
            elif "array" in self._types(prop) and list_path is None:
                items = self._deref(prop.get("items"))
                if "properties" in items:
                    start = len(self.fields)
                    self._walk(items, path, tz, te, path, depth + 1)
                    self.lists.append(ListOf(path, tz, te, f.description_zh, f.description_en,
                                             tuple(self.fields[start:])))

    # ---------------------------------------------------------------- headers

    def _aliases(self, fields: list[Field] | tuple[Field, ...], relative: bool
                 ) -> dict[str, Field | None]:
        """Normalised header -> field (None when two fields share it: ambiguous)."""
        out: dict[str, Field | None] = {}
        strong: set[str] = set()
        for f in fields:  # dotted paths first: they always win
            key = norm(".".join(f.relative if relative else f.path))
            out[key] = f
            strong.add(key)
        for f in fields:
            for lang in ("zh", "en"):
                key = norm(f.header(lang, relative))
                if key in strong:
                    continue
                if key in out and out[key] is not f:
                    out[key] = None
                else:
                    out[key] = f
        return out

    def main_fields(self) -> list[Field]:
        """The columns of the records sheet (no element fields)."""
        return [f for f in self.fields if f.list_path is None]

    def resolve(self, header: str) -> Field | None:
        """The field a header of the records sheet (or a CSV) names, None if none; an
        extension key the schema accepts (`x_…`) is a field of kind `any`."""
        m = _BRACKETED.match(header)
        if m is not None:
            f = self.by_path.get(tuple(m.group(2).split(".")))
            if f is not None:
                return f
        hit = self._headers.get(norm(header))
        if hit is not None:
            return hit
        return self._open(header)

    def _open(self, header: str) -> Field | None:
        """A dotted header for a property the schema lets in without naming it."""
        parts = tuple(p for p in header.strip().split("."))
        if not parts or not all(parts):
            return None
        node = self._deref(self.schema)
        for i, part in enumerate(parts):
            props = node.get("properties") or {}
            if part in props:
                node = self._deref(props[part])
                continue
            if i != len(parts) - 1:
                return None
            for pattern in node.get("patternProperties") or {}:
                try:
                    if re.search(pattern, part):
                        return Field(parts, "any", parts, parts)
                except re.error:
                    continue
            if node.get("additionalProperties", True) is not False and "type" in node:
                return Field(parts, "any", parts, parts)
            return None
        return None

    def resolve_in_list(self, lst: ListOf, header: str) -> Resolved:
        """What a header of a list's own sheet names: the record id, an element field (by its
        name inside the element or its full header), or nothing known."""
        key = norm(header)
        if key in self._id_aliases:
            return Resolved(None, record_id=True)
        aliases = self._list_headers.get(lst.path)
        if aliases is None:
            aliases = self._list_headers[lst.path] = self._aliases(lst.fields, relative=True)
        hit = aliases.get(key)
        if hit is None:
            full = self.resolve(header)
            hit = full if full is not None and full.list_path == lst.path else None
        return Resolved(hit)

    def suggest(self, header: str, lst: ListOf | None = None) -> tuple[str, str] | None:
        """(header, dotted path) of the known column closest to an unknown header."""
        fields = list(lst.fields) if lst is not None else self.fields
        cands: dict[str, Field] = {}
        for f in fields:
            rel = lst is not None
            for text in (".".join(f.relative if rel else f.path), f.header("zh", rel),
                         f.header("en", rel)):
                cands.setdefault(text, f)
        text = header.strip()
        hits = difflib.get_close_matches(text, list(cands), n=1, cutoff=0.6)
        if not hits:
            lowered = {c.casefold(): c for c in cands}
            hits = [lowered[h] for h in difflib.get_close_matches(text.casefold(), list(lowered),
                                                                    n=1, cutoff=0.6)]
        if hits:
            f = cands[hits[0]]
            return hits[0], ".".join(f.relative if lst is not None else f.path)
        leaf = norm(text)  # a field's own title alone (`职级` for 公职人员·职级), when unique
        found = [f for f in fields if leaf in (norm(f.title_zh[-1]), norm(f.title_en[-1]),
                                               norm(f.path[-1]))]
        if len(found) == 1:
            f = found[0]
            cjk = any("\u4e00" <= c <= "\u9fff" for c in text)
            shown = f.header("zh" if cjk else "en", lst is not None)
            return shown, ".".join(f.relative if lst is not None else f.path)
        return None

    # ---------------------------------------------------------------- sheets

    def _sheet_aliases(self) -> dict[str, ListOf | None]:
        """Normalised sheet name -> list (None when two lists share it)."""
        out: dict[str, ListOf | None] = {}
        for lst in self.lists:
            for text in (lst.dotted, lst.title("zh"), lst.title("en")):
                key = norm(text)
                out[key] = None if key in out and out[key] is not lst else lst
        leaves: dict[str, set[tuple[str, ...]]] = {}
        for lst in self.lists:  # a list's own name or title alone, when no other list has it
            for text in (lst.path[-1], lst.title_zh[-1], lst.title_en[-1]):
                leaves.setdefault(norm(text), set()).add(lst.path)
        by_path = {lst.path: lst for lst in self.lists}
        for key, paths in leaves.items():
            if key not in out:
                out[key] = by_path[next(iter(paths))] if len(paths) == 1 else None
        return out

    def sheet_list(self, name: str) -> ListOf | None:
        """The list of objects a sheet name stands for."""
        return self._sheets.get(norm(name))

    def sheet_name(self, lst: ListOf, lang: str) -> str:
        """The template's name for a list's sheet: its own title when no other list has it,
        else its title path (at most 31 characters, Excel's limit)."""
        own = lst.title_zh[-1] if lang == "zh" else lst.title_en[-1]
        name = own if self._sheets.get(norm(own)) is lst else lst.title(lang)
        return re.sub(r"[\[\]:*?/\\]", "_", name)[:31]

    def suggest_sheet(self, name: str) -> str | None:
        cands = {}
        for lst in self.lists:
            for text in (lst.dotted, lst.title("zh"), lst.title("en"), lst.title_zh[-1],
                         lst.title_en[-1]):
                cands.setdefault(text, lst)
        hits = difflib.get_close_matches(name.strip(), list(cands), n=1, cutoff=0.6)
        return hits[0] if hits else None

    @staticmethod
    def is_aux_sheet(name: str) -> bool:
        key = norm(name)
        return any(key == norm(n) for names in AUX_SHEETS.values() for n in names)

    @staticmethod
    def is_record_sheet(name: str) -> bool:
        key = norm(name)
        return key in {norm(n) for n in RECORD_SHEETS.values()}
