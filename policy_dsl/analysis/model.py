"""A symbolic interaction record for the SMT analysis, and its way back to a JSON record.

Every field the rules read becomes a pair of z3 terms: `known` (the field is present and
not null) and `value`. Lists get a `known` flag and a length bounded by `bound`; their
elements are fields under `path.i`. Values are encoded as:

- bool → Bool; int → Int (with the schema's minimum); money/number → Real (money ≥ 0);
- enum → Int, one global number per value name (so enums of different fields that share a
  value name compare equal, as the strings do at run time);
- date → Int day number (`date.toordinal()`); datetime → Int seconds since 0001-01-01 00:00
  in UTC+08:00 (every counterexample datetime is written with +08:00);
- string → String (pattern-constrained for jurisdiction codes and USCCs).

`to_record(model)` writes a model back as a raw JSON-ready record: present fields only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import z3

DAY_MIN, DAY_MAX = dt.date(1, 1, 1).toordinal(), dt.date(9999, 12, 31).toordinal()
SECONDS_PER_DAY = 86400
CN_TZ = dt.timezone(dt.timedelta(hours=8))

_DIGIT = z3.Range("0", "9")
_USCC_CHAR = z3.Union(_DIGIT, z3.Range("A", "H"), z3.Range("J", "N"), z3.Re("P"), z3.Re("Q"),
                      z3.Re("R"), z3.Re("T"), z3.Re("U"), z3.Re("W"), z3.Re("X"), z3.Re("Y"))
PATTERNS = {
    "jurisdiction": z3.Loop(_DIGIT, 6, 6),
    "uscc": z3.Concat(z3.Loop(_USCC_CHAR, 2, 2), z3.Loop(_DIGIT, 6, 6), z3.Loop(_USCC_CHAR, 10, 10)),
}


@dataclass(frozen=True)
class LeafInfo:
    """What the schema says about one field (schema path, e.g. `meals[].total_cny`)."""

    kind: str  # bool int number money string date datetime enum list object
    values: tuple[str, ...] = ()
    minimum: Any = None
    maximum: Any = None
    pattern: str | None = None  # jurisdiction | uscc
    min_length: int | None = None
    max_length: int | None = None
    nullable: bool = True


def schema_index(schema: dict) -> dict[str, LeafInfo]:
    """What the schema says about each field, by schema path."""
    defs = schema.get("$defs", {})
    out: dict[str, LeafInfo] = {}

    def visit(node: dict, path: str, nullable: bool = True) -> None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name in ("money", "date", "datetime"):
                out[path] = LeafInfo(name, minimum=0 if name == "money" else None, nullable=nullable)
                return
            if name in PATTERNS:
                out[path] = LeafInfo("string", pattern=name, nullable=nullable)
                return
            visit(defs[name], path, nullable)
            return
        if "anyOf" in node:
            alts = [a for a in node["anyOf"] if a.get("type") != "null"]
            visit(alts[0] if alts else {}, path, len(alts) < len(node["anyOf"]))
            return
        types = node.get("type", [])
        types = [types] if isinstance(types, str) else list(types)
        nullable = nullable and ("null" in types or not types)
        kinds = [t for t in types if t != "null"]
        kind = kinds[0] if kinds else None
        if "enum" in node:
            out[path] = LeafInfo("enum", tuple(v for v in node["enum"] if v is not None),
                                 nullable=nullable)
        elif kind == "array":
            out[path] = LeafInfo("list", nullable=nullable)
            visit(node.get("items", {}), path + "[]", False)
        elif kind == "object":
            out[path] = LeafInfo("object", nullable=nullable)
            for k, v in node.get("properties", {}).items():
                visit(v, f"{path}.{k}" if path else k)
        else:
            out[path] = LeafInfo(
                {"boolean": "bool", "integer": "int", "number": "number"}.get(kind, "string"),
                minimum=node.get("minimum"), maximum=node.get("maximum"),
                min_length=node.get("minLength"), max_length=node.get("maxLength"),
                nullable=nullable)

    visit(schema, "")
    return out


def required_paths(schema: dict) -> tuple[str, ...]:
    """Schema paths that must be present for a record to be valid at all."""
    out = list(schema.get("required", ()))
    props = schema.get("properties", {})
    for name in schema.get("required", ()):
        node = props.get(name, {})
        for sub in node.get("required", ()):
            out.append(f"{name}.{sub}")
    return tuple(out)


class EnumIds:
    """One integer per enum value name, shared by all enums."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.names: list[str] = []

    def id(self, name: str) -> int:
        if name not in self.ids:
            self.ids[name] = len(self.names)
            self.names.append(name)
        return self.ids[name]


@dataclass
class Leaf:
    cpath: str  # concrete path, e.g. "meals.0.total_cny"
    info: LeafInfo
    known: z3.BoolRef
    value: z3.ExprRef


@dataclass
class ListSym:
    cpath: str
    spath: str
    known: z3.BoolRef
    length: z3.ArithRef
    bound: int


def spath_of(cpath: str) -> str:
    """Schema path of a concrete path: `meals.0.total_cny` → `meals[].total_cny`."""
    out: list[str] = []
    for part in cpath.split("."):
        if part.isdigit():
            out[-1] += "[]"
        else:
            out.append(part)
    return ".".join(out)


class SymRecord:
    """The symbolic record: fields created on first use, with their schema constraints."""

    def __init__(self, fixed: dict[str, Any], bounds: dict[str, int], default_bound: int,
                 enums: EnumIds, index: dict[str, LeafInfo], required: frozenset[str]):
        self.fixed = fixed  # concrete path → Python value (id, jurisdiction, date, …)
        self.bounds = bounds
        self.default_bound = default_bound
        self.enums = enums
        self.index = index  # `schema_index` of the record schema
        self.leaves: dict[str, Leaf] = {}
        self.lists: dict[str, ListSym] = {}
        self.objects: dict[str, z3.BoolRef] = {}
        self.constraints: list[z3.BoolRef] = []
        self.preferences: list[z3.BoolRef] = []  # for nicer counterexamples, dropped if impossible
        self.required = required  # `required_paths` of the record schema

    # ---- objects -------------------------------------------------------------------
    def object_known(self, cpath: str) -> z3.BoolRef:
        """Presence of an object field (root sub-objects); list elements are present by index."""
        if cpath == "" or cpath.split(".")[-1].isdigit():
            return z3.BoolVal(True)
        hit = self.objects.get(cpath)
        if hit is None:
            hit = z3.Bool(f"K:{cpath}")
            self.objects[cpath] = hit
            if spath_of(cpath) in self.required:
                self.constraints.append(hit)
            self._imply_parent(cpath, hit)
        return hit

    def _imply_parent(self, cpath: str, known: z3.BoolRef) -> None:
        if "." in cpath:
            parent = cpath.rsplit(".", 1)[0]
            if not parent.split(".")[-1].isdigit():
                self.constraints.append(z3.Implies(known, self.object_known(parent)))

    # ---- lists ---------------------------------------------------------------------
    def list(self, cpath: str) -> ListSym:
        hit = self.lists.get(cpath)
        if hit is None:
            spath = spath_of(cpath)
            bound = self.bounds.get(spath, self.default_bound)
            known = z3.Bool(f"K:{cpath}")
            length = z3.Int(f"N:{cpath}")
            self.constraints += [length >= 0, length <= bound]
            if cpath in self.fixed:
                self.constraints.append(known == z3.BoolVal(self.fixed[cpath] is not None))
            self._imply_parent(cpath, known)
            hit = ListSym(cpath, spath, known, length, bound)
            self.lists[cpath] = hit
        return hit

    # ---- scalar fields ---------------------------------------------------------------
    def leaf(self, cpath: str) -> Leaf:
        hit = self.leaves.get(cpath)
        if hit is not None:
            return hit
        spath = spath_of(cpath)
        info = self.index.get(spath)
        if info is None:
            raise KeyError(spath)
        known = z3.Bool(f"K:{cpath}")
        value = self._value_var(cpath, info)
        cons = self.constraints
        if cpath in self.fixed:
            fixed = self.fixed[cpath]
            cons.append(known == z3.BoolVal(fixed is not None))
            if fixed is not None:
                cons.append(value == self.const(fixed, info.kind))
        if cpath.split(".")[-1].isdigit():
            # A scalar list element: present by its index (ListSym.length), never null.
            return self.leaves.setdefault(cpath, Leaf(cpath, info, z3.BoolVal(True), value))
        if spath in self.required or not info.nullable:
            cons.append(known)
        self._imply_parent(cpath, known)
        hit = Leaf(cpath, info, known, value)
        self.leaves[cpath] = hit
        return hit

    def _value_var(self, cpath: str, info: LeafInfo) -> z3.ExprRef:
        name = f"V:{cpath}"
        kind = info.kind
        cons = self.constraints
        if kind == "bool":
            return z3.Bool(name)
        if kind == "enum":
            v = z3.Int(name)
            cons.append(z3.Or([v == self.enums.id(x) for x in info.values]))
            return v
        if kind == "int":
            v = z3.Int(name)
            if info.minimum is not None:
                cons.append(v >= int(info.minimum))
            if info.maximum is not None:
                cons.append(v <= int(info.maximum))
            return v
        if kind in ("money", "number"):
            v = z3.Real(name)
            if info.minimum is not None:
                cons.append(v >= z3.RealVal(str(info.minimum)))
            if info.maximum is not None:
                cons.append(v <= z3.RealVal(str(info.maximum)))
            return v
        if kind == "date":
            v = z3.Int(name)
            cons += [v >= DAY_MIN, v <= DAY_MAX]
            return v
        if kind == "datetime":
            v = z3.Int(name)
            cons += [v >= 0, v < DAY_MAX * SECONDS_PER_DAY]
            return v
        v = z3.String(name)
        if info.pattern:
            cons.append(z3.InRe(v, PATTERNS[info.pattern]))
        else:
            if info.max_length is not None:
                cons.append(z3.Length(v) <= info.max_length)
            # Preferred, not required (a record may hold any text): short printable text.
            word = z3.Concat(z3.Range("A", "Z"), z3.Star(z3.Union(z3.Range("A", "Z"), z3.Range("0", "9"))))
            self.preferences += [z3.Or(v == z3.StringVal(""), z3.InRe(v, word)), z3.Length(v) <= 16]
            if info.min_length:
                cons.append(z3.Length(v) >= info.min_length)
        return v

    def const(self, value: Any, kind: str) -> z3.ExprRef:
        """A Python value as a z3 term of the encoding of `kind`."""
        if kind == "enum":
            return z3.IntVal(self.enums.id(value))
        if kind == "bool":
            return z3.BoolVal(bool(value))
        if kind == "int":
            return z3.IntVal(int(value))
        if kind in ("money", "number"):
            return z3.RealVal(str(value))
        if kind == "date":
            return z3.IntVal(value.toordinal())
        if kind == "datetime":
            return z3.IntVal(datetime_seconds(value))
        return z3.StringVal(str(value))

    # ---- back to a record ----------------------------------------------------------
    def to_record(self, m: z3.ModelRef) -> dict:
        """The model as a raw record (JSON types); absent fields are left out."""
        out: dict = {}
        for cpath, value in self.fixed.items():
            if value is not None and cpath not in self.leaves and cpath not in self.lists:
                _put(out, cpath, _json_value(value))
        for cpath, lst in sorted(self.lists.items(), key=lambda kv: kv[0].count(".")):
            if not _true(m, lst.known) or not self._parents_present(m, cpath):
                continue
            n = m.eval(lst.length, model_completion=True).as_long()
            info = self.index.get(lst.spath + "[]")
            elems = [{} if info is not None and info.kind == "object" else None for _ in range(n)]
            _put(out, cpath, elems)
        for cpath, known in self.objects.items():
            if _true(m, known) and self._parents_present(m, cpath) and _get(out, cpath) is None:
                _put(out, cpath, {})
        for cpath, leaf in sorted(self.leaves.items()):
            if not _true(m, leaf.known) or not self._parents_present(m, cpath):
                continue
            _put(out, cpath, self._decode(m.eval(leaf.value, model_completion=True), leaf.info.kind))
        # Scalar list elements that the rules never read still need a valid value.
        for cpath, lst in self.lists.items():
            elems = _get(out, cpath)
            info = self.index.get(lst.spath + "[]")
            if isinstance(elems, list) and info is not None and info.kind == "enum":
                for i, x in enumerate(elems):
                    if x is None:
                        elems[i] = info.values[0]
        return out

    def _parents_present(self, m: z3.ModelRef, cpath: str) -> bool:
        parts = cpath.split(".")
        for i in range(1, len(parts)):
            if parts[i].isdigit():
                lst = self.lists.get(".".join(parts[:i]))
                if lst is None or not _true(m, lst.known):
                    return False
                if int(parts[i]) >= m.eval(lst.length, model_completion=True).as_long():
                    return False
        return True

    def _decode(self, v: z3.ExprRef, kind: str) -> Any:
        if kind == "bool":
            return z3.is_true(v)
        if kind == "enum":
            return self.enums.names[v.as_long()]
        if kind == "int":
            return v.as_long()
        if kind in ("money", "number"):
            text = decimal_text(v)
            return text if kind == "money" else float(Decimal(text)) if "." in text else int(text)
        if kind == "date":
            return dt.date.fromordinal(v.as_long()).isoformat()
        if kind == "datetime":
            return seconds_datetime(v.as_long()).isoformat()
        return v.as_string()


def datetime_seconds(x: dt.datetime | dt.date) -> int:
    if not isinstance(x, dt.datetime):
        x = dt.datetime(x.year, x.month, x.day, tzinfo=CN_TZ)
    local = x.astimezone(CN_TZ) if x.tzinfo else x
    return (local.date().toordinal() - 1) * SECONDS_PER_DAY + local.hour * 3600 + local.minute * 60 + local.second


def seconds_datetime(s: int) -> dt.datetime:
    days, rest = divmod(s, SECONDS_PER_DAY)
    d = dt.date.fromordinal(days + 1)
    return dt.datetime(d.year, d.month, d.day, rest // 3600, rest % 3600 // 60, rest % 60, tzinfo=CN_TZ)


def decimal_text(v: z3.ExprRef) -> str:
    """A z3 rational as decimal text (exact when it has a finite decimal expansion)."""
    if z3.is_int_value(v):
        return str(v.as_long())
    frac = Fraction(v.numerator_as_long(), v.denominator_as_long())
    for digits in range(13):
        scaled = frac * 10 ** digits
        if scaled.denominator == 1:
            return format(Decimal(scaled.numerator).scaleb(-digits), "f")
    return format((Decimal(frac.numerator) / Decimal(frac.denominator)).quantize(Decimal("0.000001")), "f")


def _true(m: z3.ModelRef, b: z3.BoolRef) -> bool:
    return z3.is_true(m.eval(b, model_completion=True))


def _json_value(v: Any) -> Any:
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return format(v, "f")
    return v


def _split(cpath: str) -> list:
    return [int(p) if p.isdigit() else p for p in cpath.split(".")]


def _get(obj: Any, cpath: str) -> Any:
    for key in _split(cpath):
        if isinstance(key, int):
            if not isinstance(obj, list) or key >= len(obj):
                return None
            obj = obj[key]
        else:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(key)
    return obj


def _put(obj: dict, cpath: str, value: Any) -> None:
    keys = _split(cpath)
    for key, nxt in zip(keys, keys[1:]):
        if isinstance(key, int):
            if obj[key] is None:
                obj[key] = {}
            obj = obj[key]
        else:
            if obj.get(key) is None:
                obj[key] = [] if isinstance(nxt, int) else {}
            obj = obj[key]
    last = keys[-1]
    if isinstance(last, int):
        obj[last] = value
    else:
        obj[last] = value
