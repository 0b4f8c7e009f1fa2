"""Record validation: a record checked against its kind's JSON Schema, then normalised.

Validation is jsonschema-rs's draft 2020-12 validator (it passes the official
JSON-Schema-Test-Suite; regular expressions run with ECMA-262 semantics: `\\d` is
ASCII, `$` is the end of the string, `.` stops at any line terminator).
`Validator(schema)` checks the schema first (`checker.input.schemas.check_schema`:
metaschema, draft, no remote `$ref`, ECMA-262 regular expressions) and works for any
schema: the bundled interaction schema or one a city or pack supplies, one
validator per record kind.

`Validator.validate(raw)` returns `(normalised record, [])` or `(None, every
error)`, each error a `RecordError` with a JSON path and a zh/en message rendered
from the library's error objects (`checker.input.messages`). Normalisation
(`checker.input.normalise`) is a separate step on valid records: money to
`Decimal`, dates, aware datetimes, defaults.

`format`: `date` and `date-time` are asserted (RFC 3339 full-date and date-time:
leap seconds and lower-case `t`/`z` allowed, `+01`, `+10:60` and basic format
refused). Other formats are annotations, as the 2020-12 spec makes them, unless
the schema's root says `"x-assert-formats": true` (every format jsonschema-rs
knows) or lists the formats to assert.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import jsonschema_rs

from checker.input.json_values import Invalid, json_problem
from checker.input.messages import RecordError, render, render_path
from checker.input.normalise import Normaliser
from checker.input.schemas import (
    SchemaError,
    SchemaIndex,
    check_schema,
    load_schema,
    pointer,
)

__all__ = [
    "RecordError",
    "SchemaCompileError",
    "SchemaError",
    "Validator",
    "compile_validator",
    "default_validator",
    "load_schema",
    "render_path",
    "validator_for",
]

SchemaCompileError = SchemaError  # the name callers knew

ASSERTED_FORMATS = frozenset({"date", "date-time"})
# The formats jsonschema-rs checks when asked to; those not asserted are let through.
_KNOWN_FORMATS = (
    "date", "date-time", "duration", "email", "hostname", "idn-email", "idn-hostname", "ipv4",
    "ipv6", "iri", "iri-reference", "json-pointer", "regex", "relative-json-pointer", "time",
    "uri", "uri-reference", "uri-template", "uuid",
)
_BAD_INSTANCE = (ValueError, TypeError, OverflowError, RecursionError)


def _accept(_value: str) -> bool:
    return True


def _refuse_remote(uri: str) -> Any:
    raise LookupError(f"qinqing does not fetch schemas: {uri}")


def _options(schema: Any) -> dict[str, Any]:
    wanted = schema.get("x-assert-formats") if isinstance(schema, dict) else None
    if wanted is True:
        asserted = frozenset(_KNOWN_FORMATS)
    else:
        asserted = ASSERTED_FORMATS | frozenset(wanted if isinstance(wanted, list) else ())
    return {
        "validate_formats": True,
        "ignore_unknown_formats": True,
        "formats": {f: _accept for f in _KNOWN_FORMATS if f not in asserted},
        "retriever": _refuse_remote,
    }


class Validator:
    """A validator built once from one schema; thread-safe and reusable."""

    __slots__ = ("_extensions", "_index", "_is_valid", "_iter_errors", "_normalise", "_patterns",
                 "schema", "source")

    def __init__(self, schema: dict, source: str = "<schema>") -> None:
        check_schema(schema, source)
        self.schema = schema
        self.source = source
        options = _options(schema)
        try:
            rs = jsonschema_rs.Draft202012Validator(schema, **options)
            validators = jsonschema_rs.validator_map_for(schema, **options)
        except jsonschema_rs.ValidationError as exc:  # a reference that cannot be resolved
            where = pointer(exc.schema_path) if exc.schema_path else ""
            raise SchemaError(source, where, f"模式无法使用：{exc.message}",
                              f"the schema cannot be used: {exc.message}") from None
        self._is_valid = rs.is_valid
        self._iter_errors = rs.iter_errors
        self._index = SchemaIndex(schema)
        self._patterns: dict[str, Any] = {}
        self._normalise = Normaliser(schema, validators, self._matches)
        self._extensions: dict[str, Any] = {}

    def extension(self, name: str, build: Callable[[Validator], Any]) -> Any:
        """What `build(self)` makes, made once and kept with this validator (the JSONL fast
        path's decoder, for one)."""
        if name not in self._extensions:
            self._extensions[name] = build(self)
        return self._extensions[name]

    def _matches(self, pattern: str, key: str) -> bool:
        """`patternProperties` matching exactly as the validator does (ECMA-262)."""
        v = self._patterns.get(pattern)
        if v is None:
            v = self._patterns[pattern] = jsonschema_rs.Draft202012Validator({"pattern": pattern})
        return v.is_valid(key)

    def validate(self, raw: Any) -> tuple[dict | None, list[RecordError]]:
        """Return (normalised record, []) or (None, every error found)."""
        if raw.__class__ is not dict:
            if not isinstance(raw, dict):
                return None, [_not_an_object(raw)]
            raw = dict(raw)
        return self.validate_instance(raw)

    def validate_instance(self, raw: Any) -> tuple[Any, list[RecordError]]:
        """`validate` for any JSON value, not only a record (an object)."""
        try:
            errors = self._errors(raw)
        except _BAD_INSTANCE:  # a value JSON cannot hold, or a Python object such as a date
            problem = json_problem(raw)
            if problem is not None:
                return None, [problem]
            raw = _jsonable(raw)
            try:
                errors = self._errors(raw)
            except _BAD_INSTANCE as exc:
                return None, [RecordError("$", "type", f"记录含有无法识别的取值：{exc}",
                                          f"the record holds a value that is not JSON: {exc}")]
        if errors:
            return None, render(raw, errors, self._index)
        try:
            return self._normalise(raw), []
        except Invalid as exc:
            return None, [exc.error]

    def _errors(self, raw: Any) -> list:
        return [] if self._is_valid(raw) else list(self._iter_errors(raw))

    def is_valid(self, raw: Any) -> bool:
        return not self.validate(raw)[1]

    def is_valid_instance(self, raw: Any) -> bool:
        return not self.validate_instance(raw)[1]


def _not_an_object(raw: Any) -> RecordError:
    from checker.input.messages import _TYPE_NAMES, json_type

    zh_got, en_got = _TYPE_NAMES.get(json_type(raw), (type(raw).__name__,) * 2)
    return RecordError("$", "type", f"记录应为 JSON 对象，实际为{zh_got}",
                       f"a record must be a JSON object, got {en_got}")


def _jsonable(v: Any) -> Any:
    """Python values a loader or caller may hand over, as JSON: dates as RFC 3339 text."""
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return v


def validator_for(schema: dict, source: str = "<schema>") -> Validator:
    """A validator for `schema` (checked first; `SchemaError` names `source` if unusable)."""
    return Validator(schema, source)


def compile_validator(schema: dict | None = None) -> Validator:
    """A validator for `schema` (default: the bundled record schema)."""
    if schema is None:
        return default_validator()
    return Validator(schema)


@lru_cache(maxsize=1)
def default_validator() -> Validator:
    """A shared validator for the bundled interaction schema, built on first use."""
    return Validator(load_schema(), "checker/schema/record.schema.json")
