"""Parameters by jurisdiction and date (OpenFisca-style), each value with its provenance.

Besides scalars (money, integer, number, boolean, string, duration, date, enum), a parameter
may be a `set` (a list of values of one type), a `table` (rows with typed columns and a key
column, given inline or as a CSV file beside the profile) or a `calendar` (public holidays and
make-up working days; the versions of every profile in the chain are merged: a local calendar
adds its days to the national one). Tables and calendars are in `policy_dsl/param_tables.py`.

A profile file (`rules/params/<code>.yaml`) gives values for one jurisdiction. The
national baseline `000000` declares every parameter (type, unit, titles). A profile
inherits, in order: the profiles it names in `inherits`, then its GB/T 2260 parents
(XXYYZZ → XXYY00 → XX0000), then `000000`. For a date, a profile's value is the latest
version with `from <= date` (and `date < until` when given); a profile without one
defers to the next in the chain.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

import yaml

from . import types as ty
from .errors import Diagnostic, Span, did_you_mean
from .ir import Calendar, Duration
from .param_tables import SCALARS, compound_type, convert_compound, read_csv_value

BASELINE = "000000"
MAX_PARAM_BYTES = 512 * 1024
PARAM_TYPES = SCALARS
COMPOUND_TYPES = ("set", "table", "calendar")  # declared with more than a type name


@dataclass(frozen=True)
class Version:
    start: dt.date
    until: dt.date | None
    value: Any
    source: str | None  # "document, clause [S:n]"
    assumed: bool
    note: str | None
    line: int


@dataclass(frozen=True)
class ParamDecl:
    name: str
    type: ty.T
    unit: str | None
    title: tuple[str, str]
    line: int
    key: str | None = None  # a table's key column (`row(param.t, key)`)


@dataclass
class Profile:
    code: str
    title: tuple[str, str]
    inherits: tuple[str, ...]
    values: dict[str, list[Version]]
    file: str
    decls: dict[str, ParamDecl] = field(default_factory=dict)
    name_lines: dict[str, int] = field(default_factory=dict)  # where each parameter is named
    text_lines: list[str] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class Resolved:
    """A parameter value with where it came from."""

    name: str
    value: Any
    profile: str
    start: dt.date
    source: str | None
    assumed: bool

    def provenance(self) -> str:
        origin = self.source or "assumed"
        return f"{self.profile} from {self.start.isoformat()} ({origin})"


class ParamSet:
    def __init__(self, profiles: dict[str, Profile]):
        self.profiles = profiles
        base = profiles.get(BASELINE)
        self.decls: dict[str, ParamDecl] = dict(base.decls) if base else {}
        # A profile may declare a parameter of its own (with `type`): packs applying elsewhere
        # that use it have no value there (E208).
        for code in sorted(profiles):
            for name, decl in profiles[code].decls.items():
                self.decls.setdefault(name, decl)
        self._cache: dict[tuple[str, dt.date], dict[str, Any]] = {}

    def chain(self, code: str) -> list[str]:
        return _chain(code, self.profiles)

    def resolve(self, name: str, code: str, day: dt.date) -> Resolved | None:
        decl = self.decls.get(name)
        if decl is not None and decl.type.kind == "calendar":
            return self._calendar(name, code, day)
        for prof_code in self.chain(code):
            versions = self.profiles[prof_code].values.get(name)
            if not versions:
                continue
            best = None
            for v in versions:
                if (v.start <= day and (v.until is None or day < v.until)
                        and (best is None or v.start >= best.start)):
                    best = v
            if best is not None:
                return Resolved(name, best.value, prof_code, best.start, best.source, best.assumed)
        return None

    def _calendar(self, name: str, code: str, day: dt.date) -> Resolved | None:
        """A calendar: every version of every profile in the chain, merged (a local version adds
        days to the national ones); its provenance is the version covering `day`, if any."""
        found = [(prof, v) for prof in self.chain(code) for v in self.profiles[prof].values.get(name, ())]
        if not found:
            return None
        spans: list[tuple[dt.date, dt.date]] = []
        holidays: set[dt.date] = set()
        makeup: set[dt.date] = set()
        for _, v in found:
            cal: Calendar = v.value
            spans.extend(cal.spans)
            holidays |= cal.holidays
            makeup |= cal.makeup_workdays
        merged = Calendar(_merge_spans(spans), frozenset(holidays), frozenset(makeup))
        prof, best = next(((p, v) for p, v in found if v.start <= day and (v.until is None or day < v.until)),
                          found[0])
        return Resolved(name, merged, prof, best.start, best.source, best.assumed)

    def resolve_all(self, code: str, day: dt.date) -> dict[str, Resolved]:
        out = {}
        for name in self.decls:
            r = self.resolve(name, code, day)
            if r is not None:
                out[name] = r
        return out

    def values_for(self, code: str, day: dt.date) -> dict[str, Any]:
        """Plain values in force (cached: called once per record)."""
        key = (code, day)
        hit = self._cache.get(key)
        if hit is None:
            hit = {n: r.value for n, r in self.resolve_all(code, day).items()}
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def assumed(self) -> list[tuple[Profile, str, Version]]:
        out = []
        for code in sorted(self.profiles):
            prof = self.profiles[code]
            for name in sorted(prof.values):
                for v in prof.values[name]:
                    if v.assumed:
                        out.append((prof, name, v))
        return out


def _merge_spans(spans: list[tuple[dt.date, dt.date]]) -> tuple[tuple[dt.date, dt.date], ...]:
    out: list[list[dt.date]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def _chain(code: str, profiles: dict[str, Profile]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(c: str) -> None:
        if c in seen:
            return
        seen.add(c)
        if c in profiles:
            order.append(c)
            for parent in profiles[c].inherits:
                visit(parent)
        if re.fullmatch(r"\d{6}", c):
            for parent in (c[:4] + "00", c[:2] + "0000"):
                if parent != c:
                    visit(parent)
    visit(code)
    if BASELINE in profiles and BASELINE not in order:
        order.append(BASELINE)
    return order


# ---- loading ------------------------------------------------------------------------
def _line_of(node: Any, default: int = 1) -> int:
    return getattr(node, "_line", default)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of each mapping (for diagnostics)."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    out = _LineDict(mapping)
    out._line = node.start_mark.line + 1
    out._key_lines = {}
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            out._key_lines[key_node.value] = key_node.start_mark.line + 1
    return out


class _LineDict(dict):
    _line = 1
    _key_lines: ClassVar[dict] = {}


def _construct_decimal(loader, node):
    """YAML floats are read as exact decimals (`60.005` stays 60.005; never a binary float)."""
    text = loader.construct_scalar(node).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text  # .inf / .nan: left as text, rejected by the type check
    return value if value.is_finite() else text


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def _line_span(file: str, lines: list[str], line: int) -> Span:
    """The span of a whole line, from its first non-blank character (skipping a `- `)."""
    text = lines[line - 1] if 1 <= line <= len(lines) else ""
    stripped = text.lstrip(" ")
    if stripped.startswith("- "):
        stripped = stripped[2:].lstrip(" ")
    start = len(text) - len(stripped) + 1
    return Span(file, line, start, line, max(len(text.rstrip()) + 1, start + 1))


def _text_pair(value: Any, fallback: str) -> tuple[str, str]:
    if isinstance(value, dict):
        zh = str(value.get("zh") or fallback)
        return zh, str(value.get("en") or zh)
    if value:
        return str(value), str(value)
    return fallback, fallback


def convert_value(raw: Any, t: ty.T, key: str | None = None,
                  period: tuple[dt.date, dt.date | None] | None = None) -> Any:
    """A YAML value as the language's value of type `t`; raises ValueError. `key`: a table's
    key column; `period`: the version's [from, until) (a calendar's days must lie in it)."""
    if raw is None:
        return None
    if t.kind in ("list", "calendar"):
        return convert_compound(raw, t, key, period, convert_value)
    if t.kind in ("money", "number"):
        if isinstance(raw, bool):
            raise ValueError("expected a number")
        try:
            return Decimal(str(raw))
        except InvalidOperation:
            raise ValueError(f"`{raw}` is not a number")
    if t.kind == "int":
        if isinstance(raw, str) and re.fullmatch(r"-?\d{1,18}", raw.strip()):
            return int(raw)  # a CSV cell
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"`{raw}` is not an integer")
        return raw
    if t.kind == "bool":
        if isinstance(raw, str) and raw.strip().lower() in _CSV_BOOLS:
            return _CSV_BOOLS[raw.strip().lower()]  # a CSV cell
        if not isinstance(raw, bool):
            raise ValueError(f"`{raw}` is not true/false")
        return raw
    if t.kind == "date":
        if isinstance(raw, dt.date):
            return raw
        return dt.date.fromisoformat(str(raw))
    if t.kind == "duration":
        m = re.fullmatch(r"(\d+)\s*(days?|weeks?|months?|years?)", str(raw).strip())
        if not m:
            raise ValueError(f"`{raw}` is not a duration such as `30 days`")
        unit = m.group(2) if m.group(2).endswith("s") else m.group(2) + "s"
        return Duration(int(m.group(1)), unit)
    if t.kind == "enum":
        if raw not in t.values:
            raise ValueError(f"`{raw}` is not one of {', '.join(t.values)}")
        return raw
    return str(raw)


_CSV_BOOLS = {"true": True, "false": False, "是": True, "否": False}


def load_profile(path: Path, diags: list[Diagnostic],
                 sources: dict[str, str] | None = None) -> Profile | None:
    """One profile file. Its text goes into `sources` (when given) so diagnostics can show
    the offending line."""
    file = str(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        diags.append(Diagnostic("E301", f"cannot read parameter file: {exc.strerror}", Span(file, 1, 1, 1, 1)))
        return None
    if len(raw_bytes) > MAX_PARAM_BYTES:
        diags.append(Diagnostic("E301", "parameter file too large", Span(file, 1, 1, 1, 1)))
        return None
    lines: list[str] = []
    try:
        text = raw_bytes.decode("utf-8")
        lines = text.splitlines()
        if sources is not None:
            sources[file] = text
        data = yaml.load(text, Loader=_LineLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            diags.append(Diagnostic("E301", f"parameter file is not UTF-8 (byte {exc.start})",
                                    Span(file, 1, 1, 1, 1), "save the file as UTF-8"))
            return None
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        if line > len(lines) and lines:  # at the end of the stream: point after the last line
            line, col = len(lines), len(lines[-1]) + 1
        diags.append(Diagnostic("E301", f"invalid YAML: {getattr(exc, 'problem', exc)}",
                                Span(file, line, col, line, col + 1), "check indentation and quoting"))
        return None
    if not isinstance(data, dict) or "jurisdiction" not in data:
        diags.append(Diagnostic("E301", "a parameter file needs `jurisdiction` and `parameters`",
                                Span(file, 1, 1, 1, 1),
                                'start with `jurisdiction: "150300"` (quoted: codes like 000000 are text)'))
        return None
    code = str(data["jurisdiction"])
    if not re.fullmatch(r"\d{6}", code):
        diags.append(Diagnostic("E301", f"jurisdiction `{code}` is not a 6-digit GB/T 2260 code",
                                _line_span(file, lines, _line_of(data)),
                                "quote the code: `jurisdiction: \"000000\"`"))
        return None
    inherits = data.get("inherits") or ()
    if isinstance(inherits, (str, int)):
        inherits = (inherits,)
    if not isinstance(inherits, (list, tuple)):
        diags.append(Diagnostic("E301", "`inherits` must be a list of jurisdiction codes",
                                _line_span(file, lines, _line_of(data)),
                                'write `inherits: ["150300"]`'))
        inherits = ()
    prof = Profile(code, _text_pair(data.get("name"), code), tuple(str(i) for i in inherits), {}, file,
                   text_lines=lines)
    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        diags.append(Diagnostic("E301", "`parameters` must be a mapping of names to definitions",
                                _line_span(file, lines, _line_of(data))))
        return prof
    key_lines = getattr(params, "_key_lines", {})
    for name, spec in params.items():
        line = _line_of(spec, _line_of(params))
        prof.name_lines[str(name)] = key_lines.get(str(name), line)
        sp = _line_span(file, lines, line)
        if not isinstance(spec, dict):
            diags.append(Diagnostic("E301", f"parameter `{name}` must be a mapping", sp))
            continue
        if "type" in spec:
            tname = str(spec["type"])
            allowed = spec.get("values_allowed") or []
            if tname == "enum" and not isinstance(allowed, list):
                diags.append(Diagnostic("E302", f"`values_allowed` of `{name}` must be a list", sp,
                                        "write `values_allowed: [approval, report]`"))
                continue
            key = None
            if tname == "enum":
                labels = spec.get("value_labels")  # {value: {zh: …, en: …}}: how readers see them
                labels = {str(k): {str(a): str(b) for a, b in v.items()} for k, v in labels.items()
                          if isinstance(v, dict)} if isinstance(labels, dict) else {}
                ptype = ty.T("enum", path=f"param.{name}", values=tuple(str(v) for v in allowed),
                             labels=labels)
            elif tname in PARAM_TYPES:
                ptype = PARAM_TYPES[tname]
            elif tname in COMPOUND_TYPES:
                compound = compound_type(name, tname, spec, sp, diags)
                if compound is None:
                    continue
                ptype, key = compound
            else:
                tline = getattr(spec, "_key_lines", {}).get("type", line)
                diags.append(Diagnostic("E302", f"unknown parameter type `{tname}`",
                                        _line_span(file, lines, tline),
                                        f"use one of: {', '.join(sorted(PARAM_TYPES) + ['enum'] + list(COMPOUND_TYPES))}"))
                continue
            prof.decls[name] = ParamDecl(name, ptype, spec.get("unit"), _text_pair(spec.get("title"), name), line,
                                         key)
        versions = []
        raw_values = spec.get("values") or []
        if not isinstance(raw_values, list):
            diags.append(Diagnostic("E301", f"`values` of `{name}` must be a list of versions", sp,
                                    "write `values:` then `- {from: 2024-01-01, value: …, source: …}`"))
            raw_values = []
        for v in raw_values:
            vline = _line_of(v, line)
            vsp = _line_span(file, lines, vline)
            if isinstance(v, dict) and "csv" in v and "value" not in v:
                v = _LineDict(v)
                v._line = vline
                v["value"] = read_csv_value(path.parent, v["csv"], _line_span(file, lines, vline), diags)
                if v["value"] is None:
                    continue
            if not isinstance(v, dict) or "from" not in v or "value" not in v:
                diags.append(Diagnostic("E301", f"each value of `{name}` needs `from` and `value` (or `csv`)", vsp))
                continue
            try:
                start = v["from"] if isinstance(v["from"], dt.date) else dt.date.fromisoformat(str(v["from"]))
                until = v.get("until")
                if until is not None and not isinstance(until, dt.date):
                    until = dt.date.fromisoformat(str(until))
            except ValueError:
                diags.append(Diagnostic("E301", f"`from`/`until` of `{name}` must be dates (YYYY-MM-DD)", vsp))
                continue
            src = v.get("source")
            if isinstance(src, dict):
                src = ", ".join(str(src[k]) for k in ("document", "clause", "published", "url", "ref")
                                if src.get(k))
            assumed = bool(v.get("assumed", False))
            if not src and not assumed:
                diags.append(Diagnostic("E303", f"value of `{name}` from {start} has no source", vsp,
                                        "add `source: {document: …, clause: …}` or mark it `assumed: true`"))
            versions.append(Version(start, until, v["value"], src or None, assumed, v.get("note"), vline))
        prof.values[name] = versions
    return prof


def load_params(paths: list[Path], diags: list[Diagnostic],
                sources: dict[str, str] | None = None) -> ParamSet:
    profiles: dict[str, Profile] = {}
    for path in sorted(paths):
        prof = load_profile(path, diags, sources)
        if prof is None:
            continue
        if prof.code in profiles:
            diags.append(Diagnostic("E301", f"two parameter files for jurisdiction {prof.code}",
                                    Span(str(path), 1, 1, 1, 2), f"the other is {profiles[prof.code].file}"))
            continue
        profiles[prof.code] = prof
    ps = ParamSet(profiles)
    # Type-check every value against its declaration.
    for prof in profiles.values():
        for name, versions in prof.values.items():
            decl = ps.decls.get(name) or prof.decls.get(name)
            if decl is None:
                line = prof.name_lines.get(name, versions[0].line if versions else 1)
                best = did_you_mean(name, ps.decls)
                diags.append(Diagnostic("E304", f"parameter `{name}` is not declared in the baseline {BASELINE}",
                                        _line_span(prof.file, prof.text_lines, line),
                                        f"did you mean `{best}`?" if best else
                                        "declare it (with `type`) in the 000000 profile first"))
                continue
            converted = []
            for v in versions:
                try:
                    value = convert_value(v.value, decl.type, decl.key, (v.start, v.until))
                except ValueError as exc:
                    diags.append(Diagnostic("E302", f"value of `{name}` does not fit type {decl.type}: {exc}",
                                            _line_span(prof.file, prof.text_lines, v.line),
                                            f"write a value of type {decl.type}"))
                    continue
                converted.append(Version(v.start, v.until, value, v.source, v.assumed, v.note, v.line))
            versions[:] = converted
    return ps
