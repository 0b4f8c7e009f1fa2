"""Parquet reader: one record a row, read with DuckDB a chunk of rows at a time.

A row's columns are the record's fields; a STRUCT column is an object, a LIST a list. DuckDB
writes each row as the JSON line it stands for, which is then read as a JSONL line is (the fast
path, else the validator): a Parquet record is judged exactly as its JSON would be. Parquet has
no "absent": a NULL field is left out (as a JSON record that does not give it), while a NULL
element of a list stays `null` (the validator says it is not allowed). DECIMAL and DOUBLE are
written as JSON numbers (NaN and infinities as text, which the validator refuses), DATE as
`YYYY-MM-DD`, a TIMESTAMP with a time zone as the same instant at +08:00 (Asia/Shanghai), one
without as that time at +08:00 (as Excel cells), a column of DuckDB's JSON type as its JSON. A
column of a type JSON cannot hold (BLOB, BIT, INTERVAL) makes the file unreadable, naming it.
The row number (1-based) is the record's line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from checker.input.jsonl import Decoded, parse_json
from checker.input.messages import RecordError
from checker.input.sources import MAX_RECORD_BYTES, STDIN, XLSX_TIMEZONE, InputError, too_large

CHUNK = 2048  # rows fetched at a time
ZONE = "Asia/Shanghai"  # where an instant is shown (and a time without a zone is taken to be)


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
        con.execute(f"SET TimeZone = '{ZONE}'")
        try:
            columns = con.execute("SELECT * FROM read_parquet($path) LIMIT 0", {"path": path}).description
        except duckdb.Error as exc:
            raise InputError(name, f"无法作为 Parquet 读取 {name}：{_first_line(exc)}",
                             f"cannot read {name} as Parquet: {_first_line(exc)}") from None
        fields = []
        for col, t, *_ in columns:
            try:
                conv = _expr(f"t.{_quote(col)}", t, 0)
            except _Unsupported as exc:
                raise InputError(name, f"{name} 的列 {col} 含 {exc} 类型的值，记录（JSON）无法表示；请删去或转换该列",
                                 f"column {col} of {name} holds {exc} values, which a record (JSON) cannot; "
                                 "drop or convert the column") from None
            fields.append(f"{_quote(col)} := {conv or f't.{_quote(col)}'}")
        query = (f"SELECT json_strip_nulls(to_json(struct_pack({', '.join(fields)}))) "
                 "FROM read_parquet($path) t") if fields else "SELECT '{}' FROM read_parquet($path)"
        cur = con.execute(query, {"path": path})
        row_no = 0
        while True:
            try:
                rows = cur.fetchmany(CHUNK)
            except duckdb.Error as exc:
                raise InputError(name, f"读取 {name} 第 {row_no + 1} 行起出错：{_first_line(exc)}",
                                 f"cannot read {name} from row {row_no + 1}: {_first_line(exc)}") from None
            if not rows:
                return
            for (text,) in rows:
                row_no += 1
                location = f"{name}:{row_no}"
                body = text.encode()
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


class _Unsupported(ValueError):
    """A column type JSON records cannot hold (its name)."""


_REFUSED = ("blob", "bit", "interval", "varint")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def _expr(sql: str, t: Any, depth: int) -> str | None:
    """SQL for the value `sql` (of DuckDB type `t`) as a JSON record holds it (`to_json` of it),
    or None when `to_json` of the value as it is already reads so."""
    tid = t.id
    if tid in _REFUSED:
        raise _Unsupported(str(t))
    if tid == "struct":
        kids = [(name, _expr(f"{sql}.{_quote(name)}", ct, depth)) for name, ct in t.children]
        if all(k is None for _, k in kids):
            return None
        packed = ", ".join(f"{_quote(n)} := {k or f'{sql}.{_quote(n)}'}" for n, k in kids)
        return f"(CASE WHEN {sql} IS NULL THEN NULL ELSE struct_pack({packed}) END)"
    if tid in ("list", "array"):
        var = f"e{depth}"
        elem = _expr(var, t.children[0][1], depth + 1)
        return None if elem is None else f"list_transform({sql}, lambda {var}: {elem})"
    if tid == "map":
        key, value = t.children[0][1], t.children[1][1]
        if _expr("k", key, depth + 1) is not None or _expr("v", value, depth + 1) is not None:
            raise _Unsupported(str(t))
        return None
    if tid.startswith("timestamp"):  # (the session's time zone is Asia/Shanghai: an instant is shown there)
        return (f"(CASE WHEN microsecond({sql}) % 1000000 = 0 THEN strftime({sql}, '{_TIME_FORMAT}') "
                f"ELSE strftime({sql}, '{_TIME_FORMAT}.%f') END || '{XLSX_TIMEZONE}')")
    if tid in ("double", "float"):  # (NaN and infinities are text: the validator names them)
        return f"(CASE WHEN isfinite({sql}) THEN to_json({sql}) ELSE to_json(CAST({sql} AS VARCHAR)) END)"
    return None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
