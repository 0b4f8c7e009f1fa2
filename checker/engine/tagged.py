"""The one tagged-JSON codec: values JSON lacks, written as one-key objects and read back exactly.

`{"$D": "768.00"}` an exact decimal, `{"$d": "2024-06-01"}` a date, `{"$dt": "…+08:00"}` an
aware datetime. Window projections (in memory and between `--jobs` workers) and the
compiled-policy cache use it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson

ENCODE_OPTION = orjson.OPT_PASSTHROUGH_DATETIME  # datetimes go through `tag`, offsets kept


def tag(v: Any) -> dict:
    """A decimal, date or datetime as its tagged object (`orjson.dumps(default=tag)`)."""
    if isinstance(v, Decimal):
        return {"$D": str(v)}
    if isinstance(v, dt.datetime):
        return {"$dt": v.isoformat()}
    if isinstance(v, dt.date):
        return {"$d": v.isoformat()}
    raise TypeError(type(v).__name__)


_UNTAG = {"$D": Decimal, "$d": dt.date.fromisoformat, "$dt": dt.datetime.fromisoformat}


def untag(v: Any) -> Any:
    """JSON as read back into the values `tag` wrote (recursively)."""
    if isinstance(v, dict):
        if len(v) == 1:
            (k, x), = v.items()
            conv = _UNTAG.get(k)
            if conv is not None:
                return conv(x)
        return {k: untag(x) for k, x in v.items()}
    if isinstance(v, list):
        return [untag(x) for x in v]
    return v


def dumps(v: Any) -> bytes:
    return orjson.dumps(v, default=tag, option=ENCODE_OPTION)


def loads(data: bytes | bytearray) -> Any:
    return untag(orjson.loads(data))
