"""Validation of a batch that mixes record kinds: each record against its kind's schema.

A record names its kind in `record_kind` (absent: `interaction`). `KindValidator(schemas)` holds
one `Validator` per kind (built on the first record of that kind) and dispatches: a kind no
schema describes makes the record invalid, naming the field and the kinds allowed. It offers
what loaders ask of a validator: `validate`, `schema` and `extension` are those of the default
kind (interactions, else the first kind), so the JSONL fast path is built for that kind only
and declines every record of another kind (their `record_kind` is not its schema's), which the
ordinary path then validates against their own schema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from checker.input.messages import RecordError
from checker.input.validate import Validator, default_validator, validator_for

DEFAULT_KIND = "interaction"
MAX_KIND_LENGTH = 64


class KindValidator:
    """Validates records against the schema of their kind."""

    __slots__ = ("_sources", "_validators", "default", "kinds", "schema", "schemas")

    def __init__(self, schemas: Mapping[str, dict], sources: Mapping[str, str] | None = None,
                 base: Validator | None = None) -> None:
        if not schemas:
            raise ValueError("no record schema")
        self.schemas = dict(schemas)
        self.kinds = tuple(self.schemas)
        self.default = DEFAULT_KIND if DEFAULT_KIND in self.schemas else self.kinds[0]
        self._sources = dict(sources or {})
        self._validators: dict[str, Validator] = {}
        if base is not None:
            self._validators[self.default] = base
        self.schema = self.schemas[self.default]

    def validator(self, kind: str) -> Validator:
        v = self._validators.get(kind)
        if v is None:
            v = self._validators[kind] = validator_for(exact_numbers(self.schemas[kind]),
                                                       self._sources.get(kind, f"<{kind}>"))
        return v

    @property
    def reading_schema(self) -> dict:
        """What a table loader types its cells by: the fields of every kind (a column named by
        several kinds, by the default kind's, else the first's)."""
        props: dict = {}
        defs: dict = {}
        order = [self.default, *(k for k in self.kinds if k != self.default)]
        for kind in reversed(order):
            schema = self.schemas[kind]
            props.update(schema.get("properties") or {})
            defs.update(schema.get("$defs") or {})
        out = {"type": "object", "properties": props, "$defs": defs}
        if all(self.schemas[k].get("additionalProperties", True) is False for k in self.kinds):
            out["additionalProperties"] = False  # a column no kind names is unknown
        return out

    @property
    def base(self) -> Validator:
        return self.validator(self.default)

    def extension(self, name: str, build: Callable[[Validator], Any]) -> Any:
        return self.base.extension(name, build)

    def fast_json(self) -> Any:
        """The JSONL fast path of the default kind (`checker.input.fastjson`), offered only when
        that kind's schema admits its own `record_kind` alone: then it declines every record of
        another kind, which `validate` takes."""
        from checker.input.fastjson import decoder_for

        own = (self.schema.get("properties") or {}).get("record_kind")
        allowed = [own.get("const")] if isinstance(own, dict) and "const" in own else \
            [v for v in own.get("enum") or () if v is not None] if isinstance(own, dict) else None
        if allowed != [self.default]:
            return None
        return decoder_for(self.base)

    def kind_of(self, raw: Any) -> str | None:
        """The kind of a raw record (None: not one of the kinds known)."""
        kind = raw.get("record_kind") if isinstance(raw, dict) else None
        if kind is None:
            return self.default if self.default == DEFAULT_KIND else (
                self.default if len(self.kinds) == 1 else None)
        return kind if isinstance(kind, str) and kind in self.schemas else None

    def validate(self, raw: Any) -> tuple[dict | None, list[RecordError]]:
        kind = self.kind_of(raw)
        if kind is None and isinstance(raw, dict):
            return None, [self._unknown_kind(raw.get("record_kind"))]
        return self.validator(kind or self.default).validate(raw)

    def validate_instance(self, raw: Any) -> tuple[Any, list[RecordError]]:
        return self.validate(raw) if isinstance(raw, dict) else self.base.validate_instance(raw)

    def is_valid(self, raw: Any) -> bool:
        return not self.validate(raw)[1]

    def _unknown_kind(self, value: Any) -> RecordError:
        allowed = "、".join(self.kinds)
        shown = value if isinstance(value, str) and len(value) <= MAX_KIND_LENGTH else "…"
        if value is None:
            return RecordError("$.record_kind", "required", f"缺少记录类型 record_kind；可选：{allowed}",
                               f"record_kind is missing; one of: {', '.join(self.kinds)}")
        from policy_dsl.errors import did_you_mean

        best = did_you_mean(value, self.kinds) if isinstance(value, str) else None
        if best is not None:
            return RecordError("$.record_kind", "enum", f"记录类型 '{shown}' 不存在；是否为 '{best}'？可选：{allowed}",
                               f"unknown record kind '{shown}'; did you mean '{best}'? One of: "
                               f"{', '.join(self.kinds)}")
        return RecordError("$.record_kind", "enum", f"记录类型 '{shown}' 不存在；可选：{allowed}",
                           f"unknown record kind '{shown}'; one of: {', '.join(self.kinds)}")


def exact_numbers(schema: Any) -> Any:
    """The schema with every plain `number` (no `x-normalise`) marked `x-normalise: decimal`, so
    that its values are exact decimals, as money is (a pack's own schema need not say so); the
    schema itself when it has none."""
    found = False

    def walk(node: Any) -> Any:
        nonlocal found
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        out = {k: walk(v) for k, v in node.items()}
        types = out.get("type")
        types = [types] if isinstance(types, str) else types if isinstance(types, list) else []
        if "number" in types and "x-normalise" not in out and "enum" not in out and "const" not in out:
            out["x-normalise"] = "decimal"
            found = True
        return out

    marked = walk(schema)
    return marked if found else schema


def kind_validator(schemas: Mapping[str, dict], sources: Mapping[str, str] | None = None) -> Any:
    """The validator of a run: the shared interaction validator alone when that is the only
    kind (as before record kinds), else a `KindValidator`."""
    from checker.schema import record_schema

    if list(schemas) == [DEFAULT_KIND] and schemas[DEFAULT_KIND] is record_schema():
        return default_validator()
    base = default_validator() if schemas.get(DEFAULT_KIND) is record_schema() else None
    return KindValidator(schemas, sources, base)
