"""Canonical JSON of a record: one deterministic text (for storage and for hashing) and back.

`to_canonical_json` sorts keys, writes no spaces, keeps UTF-8 text, writes Decimal as a plain
decimal string and dates and aware datetimes in ISO-8601. `from_canonical_json` restores
Decimal, date and datetime (through the record schema's validator when it accepts the
record; otherwise by field name, so old rows stay readable after a schema change).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any



def _encode_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"non-finite amount: {value}")
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"datetime without a time zone: {value.isoformat()}")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__} in canonical JSON")


def to_canonical_json(record: Mapping[str, Any]) -> str:
    """One deterministic text for a record: sorted keys, no spaces, UTF-8 text,
    Decimal as a plain decimal string, dates and aware datetimes in ISO-8601."""
    return json.dumps(
        record,
        default=_encode_default,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


@lru_cache(maxsize=1)
def _validator() -> Any | None:
    """A validator of every bundled record kind (each record against its kind's schema)."""
    try:
        from checker.input.kinds import kind_validator
        from checker.schema import bundled_schemas
    except ImportError:
        return None
    return kind_validator(bundled_schemas())


def from_canonical_json(text: str) -> dict[str, Any]:
    """Inverse of :func:`to_canonical_json`: restores Decimal, date and datetime.

    The record schema's validator does this when it is available and accepts
    the record; otherwise field names decide (``*_cny`` money, ``date``/``*_date``/
    ``*_on`` dates, ``*_at`` datetimes), so old rows stay readable after a
    schema change.
    """
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise TypeError("canonical record JSON is not an object")
    validator = _validator()
    if validator is not None:
        data, errors = validator.validate(raw)
        if data is not None and not errors:
            return data
    return _restore_by_name(raw)


def _restore_by_name(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _restore_by_name(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_by_name(v, key) for v in value]
    if not isinstance(value, str):
        return value
    try:
        if key.endswith("_cny"):
            return Decimal(value)
        if key == "date" or key.endswith(("_date", "_on")):
            return dt.date.fromisoformat(value)
        if key.endswith("_at"):
            parsed = dt.datetime.fromisoformat(value)
            return parsed if parsed.tzinfo is not None else value
    except ArithmeticError:
        return value
    except ValueError:
        return value
    return value


