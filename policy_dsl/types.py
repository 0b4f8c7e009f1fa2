"""Value types of the language, and their derivation from a record JSON Schema (given by the caller)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

NUMERIC = ("int", "number", "money")


@dataclass(frozen=True)
class T:
    """A type. `kind` is one of: bool int number money string date datetime duration
    enum list object any. Enums carry their values; lists their element; objects their fields."""

    kind: str
    path: str = ""  # schema path for enums/objects, used in messages ("meals[].payer")
    values: tuple[str, ...] = ()  # enum values
    elem: T | None = None  # list element
    fields: Mapping[str, T] = field(default_factory=dict, compare=False, hash=False)
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        if self.kind == "enum":
            return f"enum {self.path}" if self.path else "enum"
        if self.kind == "list":
            return f"list of {self.elem}"
        if self.kind == "object":
            return f"object {self.path}" if self.path else "object"
        return self.kind

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC


BOOL = T("bool")
INT = T("int")
NUMBER = T("number")
MONEY = T("money")
STRING = T("string")
DATE = T("date")
DATETIME = T("datetime")
DURATION = T("duration")
ANY = T("any")


def list_of(t: T) -> T:
    return T("list", elem=t)


def comparable(a: T, b: T) -> bool:
    """Whether `a == b` / `a < b` type-checks."""
    if a.kind == "any" or b.kind == "any":
        return True
    if a.numeric and b.numeric:
        return True
    if a.kind == "enum" and b.kind in ("enum", "string"):
        return True
    if b.kind == "enum" and a.kind == "string":
        return True
    return a.kind == b.kind


def ordered(t: T) -> bool:
    return t.kind in NUMERIC + ("date", "datetime", "duration", "string", "any")


# ---- from the JSON Schema -------------------------------------------------------------
_REF_KINDS = {"money": MONEY, "date": DATE, "datetime": DATETIME, "uscc": STRING,
              "jurisdiction": STRING}


def from_schema(node: Mapping, defs: Mapping, path: str = "") -> T:
    """The type of a schema node (nullability is implied: every value may be unknown)."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in _REF_KINDS:
            return _REF_KINDS[name]
        return from_schema(defs[name], defs, path)
    if "anyOf" in node:
        for alt in node["anyOf"]:
            if alt.get("type") != "null":
                return from_schema(alt, defs, path)
        return ANY
    types = node.get("type", [])
    if isinstance(types, str):
        types = [types]
    types = [t for t in types if t != "null"]
    kind = types[0] if types else None
    if "enum" in node:
        values = tuple(v for v in node["enum"] if v is not None)
        return T("enum", path=path, values=values, labels=node.get("x-enum-labels", {}))
    if kind == "array":
        return list_of(from_schema(node.get("items", {}), defs, path + "[]"))
    if kind == "object":
        props = node.get("properties", {})
        fields = {k: from_schema(v, defs, f"{path}.{k}" if path else k) for k, v in props.items()}
        return T("object", path=path, fields=fields)
    if node.get("x-normalise") == "decimal":
        return MONEY if node.get("x-error-code") == "money" else NUMBER
    if kind == "string" and node.get("format") in ("date", "date-time"):
        return DATE if node["format"] == "date" else DATETIME  # normalised to dates (checker)
    return {"boolean": BOOL, "integer": INT, "number": NUMBER, "string": STRING}.get(kind or "", ANY)


def record_type(schema: Mapping) -> T:
    """The type of a record described by a JSON Schema (the root object)."""
    return from_schema(schema, schema.get("$defs", {}))
