"""`--format parquet`: the findings table and the records table, for BI tools and later rendering.

`FINDINGS.parquet` has one row per finding (record position `seq`, position `n` within the
record, rule, element, kind, outcome, severity, missing facts, evidence, notes, the values
of its message and remedy as tagged JSON and the assumed parameters they state, and in both
languages its facts as read, its questions and its suggestion, see
`checker/engine/values.py`); `FINDINGS.records.parquet` one row per record (record kind, outcome,
jurisdiction, date, department, source, validation errors, parameter versions). The policy
description, its content hash and the input names are the findings file's key-value metadata.
`qinqing report` renders any report format from the two files without checking again.

Written by DuckDB from JSONL spooled to a temporary folder (memory stays flat); the rows are
typed explicitly, never inferred.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

import orjson

from checker.reports.report import Report

FINDING_TYPES = {
    "seq": "BIGINT", "n": "INTEGER", "record_id": "VARCHAR", "rule": "VARCHAR", "rule_id": "VARCHAR",
    "kind": "VARCHAR", "outcome": "VARCHAR", "severity": "VARCHAR", "element": "VARCHAR", "via": "VARCHAR",
    "tolerated_by": "VARCHAR", "missing": "VARCHAR[]", "conflict": "VARCHAR[]", "covered": "VARCHAR[]",
    "say_zh": "VARCHAR", "say_en": "VARCHAR", "remedy_zh": "VARCHAR", "remedy_en": "VARCHAR",
    "assumed": "VARCHAR[]", "evidence": "VARCHAR", "facts_zh": "VARCHAR[]", "facts_en": "VARCHAR[]",
    "questions_zh": "VARCHAR[]", "questions_en": "VARCHAR[]", "notes": "VARCHAR[]",
    "suggestion_zh": "VARCHAR", "suggestion_en": "VARCHAR",
}
RECORD_TYPES = {
    "seq": "BIGINT", "id": "VARCHAR", "record_kind": "VARCHAR", "outcome": "VARCHAR", "jurisdiction": "VARCHAR", "date": "VARCHAR",
    "department": "VARCHAR", "file": "VARCHAR", "line": "BIGINT", "location": "VARCHAR", "errors_zh": "VARCHAR", "errors_en": "VARCHAR",
    "params": "VARCHAR",
}


def records_path(findings: Path | str) -> Path:
    """Where the records table of a findings file is: `X.parquet` → `X.records.parquet`."""
    p = Path(findings)
    stem = p.name[:-len(".parquet")] if p.name.endswith(".parquet") else p.name
    return p.with_name(stem + ".records.parquet")


def _columns(types: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"


def write(report: Report, out: IO[bytes], records_out: Path | None = None) -> None:
    """Write the findings table to `out` and the records table to `records_out`."""
    import duckdb

    folder = tempfile.mkdtemp(prefix="qinqing-parquet-")
    try:
        fpath, rpath = os.path.join(folder, "f.jsonl"), os.path.join(folder, "r.jsonl")
        with open(fpath, "wb") as ff, open(rpath, "wb") as rf:
            for seq, e in enumerate(report.entries):
                src = e.get("source") or {}
                rf.write(orjson.dumps({
                    "seq": seq, "id": e.get("id"), "record_kind": e.get("record_kind"), "outcome": e["outcome"], "jurisdiction": e.get("jurisdiction"),
                    "date": e.get("date"), "department": e.get("department"), "file": src.get("file"),
                    "line": src.get("line"), "location": src.get("location"),
                    "errors_zh": orjson.dumps(e.get("errors_zh") or []).decode(),
                    "errors_en": orjson.dumps(e.get("errors_en") or []).decode(),
                    "params": orjson.dumps(e.get("params") or {}, option=orjson.OPT_SORT_KEYS).decode()}) + b"\n")
                for n, f in enumerate(e.get("findings") or []):
                    row = {k: f.get(k) for k in FINDING_TYPES if k not in ("seq", "n", "record_id")}
                    ff.write(orjson.dumps({"seq": seq, "n": n, "record_id": e.get("id"), **row}) + b"\n")
        con = duckdb.connect(":memory:")
        con.execute("SET threads = 1")  # row order as written
        meta = {"qinqing.policy": orjson.dumps(report.policy).decode(),
                "qinqing.inputs": orjson.dumps(report.inputs).decode()}
        kv = "{" + ", ".join(f"'{k}': $m{i}" for i, k in enumerate(meta)) + "}"
        fout, rout = os.path.join(folder, "f.parquet"), os.path.join(folder, "r.parquet")
        params = {f"m{i}": v for i, v in enumerate(meta.values())}
        for src, dst, types, extra in ((fpath, fout, FINDING_TYPES, True), (rpath, rout, RECORD_TYPES, False)):
            kv_clause = f", KV_METADATA {kv}" if extra else ""
            sql = (f"COPY (SELECT * FROM read_json($src, format = 'newline_delimited', columns = {_columns(types)}, "
                   f"maximum_object_size = 67108864) ORDER BY seq{', n' if 'n' in types else ''}) TO $dst "
                   f"(FORMAT PARQUET{kv_clause})")
            con.execute(sql, {"src": src, "dst": dst, **(params if extra else {})})
        con.close()
        with open(fout, "rb") as fh:
            shutil.copyfileobj(fh, out)
        if records_out is not None:
            shutil.copyfile(rout, records_out)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read(findings: Path | str) -> tuple[dict, list[str], list[dict], dict[int, list[dict]]]:
    """(policy description, inputs, records, findings by record position) of a findings file."""
    import duckdb

    con = duckdb.connect(":memory:")
    meta = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
            for k, v in con.execute("SELECT key, value FROM parquet_kv_metadata($p)", {"p": str(findings)}).fetchall()}
    policy = orjson.loads(meta["qinqing.policy"])
    inputs = orjson.loads(meta.get("qinqing.inputs", "[]"))
    cur = con.execute("SELECT * FROM read_parquet($p) ORDER BY seq", {"p": str(records_path(findings))})
    cols = [c[0] for c in cur.description]
    records = [dict(zip(cols, row)) for row in cur.fetchall()]
    cur = con.execute("SELECT * FROM read_parquet($p) ORDER BY seq, n", {"p": str(findings)})
    cols = [c[0] for c in cur.description]
    by_seq: dict[int, list[dict]] = {}
    for row in cur.fetchall():
        d = dict(zip(cols, row))
        by_seq.setdefault(d["seq"], []).append(d)
    con.close()
    return policy, inputs, records, by_seq


def entries(renderer: Any, records: list[dict], by_seq: dict[int, list[dict]], detail: str = "all") -> Any:
    """The report entries of the tables, rendered in the renderer's language."""
    from checker.engine.values import render_finding

    for r in records:
        kind = r.get("record_kind")
        yield {
            "id": r["id"],
            **({"record_kind": kind} if kind not in (None, "interaction") else {}),
            "outcome": r["outcome"],
            "jurisdiction": r["jurisdiction"],
            "date": r["date"],
            "department": r["department"],
            "source": {"file": r["file"], "line": r["line"], "location": r["location"]},
            "findings": [render_finding(renderer, f, detail) for f in by_seq.get(r["seq"], [])],
            "errors": _errors(r[f"errors_{renderer.lang}"]),
        }


def _errors(text: str | None) -> list:
    return orjson.loads(text) if text else []
