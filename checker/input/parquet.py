"""Parquet reader: one record a row, read with DuckDB a chunk of rows at a time.

A row's columns are the record's fields; a STRUCT column is an object, a LIST a list. Each row
is written as the JSON line it stands for and read as a JSONL line is (the fast path, else the
validator), so a Parquet record is judged exactly as its JSON would be. Parquet has no
"absent": a NULL field is left out (as a JSON record that does not give it), while a NULL
element of a list stays `null` (the validator says it is not allowed). DECIMAL is written with
its digits, DOUBLE as the shortest decimal that reads back as the same double (as JSON text
`200.0` reads), DATE as `YYYY-MM-DD`, a TIMESTAMP with a time zone as the same instant at +08:00
(Asia/Shanghai), one without as a time at +08:00 (as Excel cells), a column of DuckDB's JSON
type parsed. A value JSON cannot hold (BLOB, INTERVAL, …) makes the row invalid, named.
The row number (1-based) is the record's line.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import orjson

from checker.input.jsonl import Decoded, parse_json
from checker.input.messages import RecordError
from checker.input.sources import MAX_RECORD_BYTES, STDIN, XLSX_TIMEZONE, InputError, loader_error, too_large

CHUNK = 2048  # rows fetched at a time
_SHANGHAI = dt.timezone(dt.timedelta(hours=int(XLSX_TIMEZONE[1:3])))


def read_parquet(path: str, name: str, fast: Callable[[bytes], dict | None] | None = None
                 ) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    """(row, location, raw, loader errors) for each row of the Parquet file `path`; `raw` is a
    `Decoded` for a row that `fast` (the JSONL fast path) decoded."""
    if path == STDIN:
        raise InputError(name, "Parquet 文件不能从标准输入读取，请给出文件路径",
                         "a Parquet file cannot be read from standard input; give its path")
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET threads = 1")
        try:
            cur = con.execute("SELECT * FROM read_parquet($path)", {"path": path})
        except duckdb.Error as exc:
            raise InputError(name, f"无法作为 Parquet 读取 {name}：{_first_line(exc)}",
                             f"cannot read {name} as Parquet: {_first_line(exc)}") from None
        columns = [(d[0], _converter(d[1])) for d in cur.description]
        row_no = 0
        while True:
            try:
                rows = cur.fetchmany(CHUNK)
            except duckdb.Error as exc:
                raise InputError(name, f"读取 {name} 第 {row_no + 1} 行起出错：{_first_line(exc)}",
                                 f"cannot read {name} from row {row_no + 1}: {_first_line(exc)}") from None
            if not rows:
                return
            for row in rows:
                row_no += 1
                location = f"{name}:{row_no}"
                try:
                    body = orjson.dumps({c: conv(x) for (c, conv), x in zip(columns, row) if x is not None})
                except (orjson.JSONEncodeError, TypeError) as exc:
                    yield row_no, location, None, loader_error(
                        "type", f"该行含有 JSON 无法表示的取值：{exc}", f"the row holds a value JSON cannot: {exc}")
                    continue
                if len(body) > MAX_RECORD_BYTES:
                    yield row_no, location, None, too_large(len(body), "该行", "the row")
                    continue
                if fast is not None:
                    data = fast(body)
                    if data is not None:
                        yield row_no, location, Decoded(body, data), []
                        continue
                yield row_no, location, parse_json(body), []
    finally:
        con.close()


def _converter(t: Any) -> Callable[[Any], Any]:
    """How a value of the DuckDB type `t` becomes what a JSON record holds (built once per
    column: the rows only run it)."""
    tid = t.id
    if str(t) == "JSON":  # (JSON text in a column: parsed)
        return _json
    if tid == "struct":
        fields = [(name, _converter(ct)) for name, ct in t.children]

        def struct(x: dict) -> dict:
            out = {}
            for name, conv in fields:
                v = x.get(name)
                if v is not None:
                    out[name] = conv(v)
            return out
        return struct
    if tid in ("list", "array"):
        elem = _converter(t.children[0][1])
        return lambda x: [None if v is None else elem(v) for v in x]
    if tid.startswith("timestamp"):
        return _datetime
    if tid in ("date", "time"):
        return _iso
    if tid == "decimal":
        return _decimal
    if tid in ("double", "float"):
        return _float
    if tid in ("varchar", "boolean") or tid.endswith("int"):
        return _same
    return _value


def _same(x: Any) -> Any:
    return x


def _decimal(x: Any) -> Any:
    return orjson.Fragment(format(x, "f")) if isinstance(x, Decimal) and x.is_finite() else _value(x)


def _float(x: Any) -> Any:
    return orjson.Fragment(repr(x)) if isinstance(x, float) and x - x == 0 else None


def _iso(x: Any) -> Any:
    return x.isoformat() if isinstance(x, (dt.date, dt.time)) else x


def _datetime(x: Any) -> Any:
    if not isinstance(x, dt.datetime):
        return x  # (±infinity: the validator names the field)
    at = x.replace(tzinfo=_SHANGHAI) if x.tzinfo is None else x.astimezone(_SHANGHAI)
    return at.isoformat()


def _json(x: Any) -> Any:
    try:
        return _value(orjson.loads(x))
    except orjson.JSONDecodeError:
        return x


def _value(x: Any) -> Any:
    """Any other value (or one parsed from a JSON column) as a JSON record holds it."""
    t = x.__class__
    if t is dict:
        return {k: _value(v) for k, v in x.items() if v is not None}
    if t is list:
        return [None if v is None else _value(v) for v in x]
    if t is float:
        return _float(x)
    if t is Decimal:
        return _decimal(x) if x.is_finite() else None
    if t is dt.datetime:
        return _datetime(x)
    if t is dt.date or t is dt.time:
        return x.isoformat()
    if t is uuid.UUID:
        return str(x)
    return x  # (str, int, bool; BLOB, INTERVAL, …: orjson refuses them, the row is named)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
