"""Running records through the SQL backend for the differential tests, and comparing its answers
with the Python evaluator's: outcome, findings (rule, element, outcome, in report order) and the
missing facts of each review. A disagreement names the record, the rule and both answers."""

from __future__ import annotations

from collections.abc import Sequence

from policy_dsl.backends.sql import duck, run
from policy_dsl.evaluate import RANK, Evaluator, RecordResult

Answer = tuple[str, list[tuple[str, str, tuple[str, ...]]]]  # outcome, [(finding, outcome, missing)]


def finding_key(rule: str, element: str | None) -> str:
    return f"{rule}@{element}" if element else rule


def sql_answers(ev: Evaluator, records: Sequence[dict], history: Sequence[dict] = (),
                engine: str = "duckdb") -> dict[str, Answer]:
    """Record id → the SQL backend's answer (records are judged at positions 0…n−1)."""
    feeder = run.Feeder(ev, run.shape_for(ev))
    items = [(i - len(history), h) for i, h in enumerate(history)] + list(enumerate(records))
    inputs = feeder.write(items)
    try:
        assert not inputs.fallback, f"records left to Python: {inputs.fallback}"
        if engine == "duckdb":
            con = duck.connect(threads=1)
            duck.load(con, feeder, inputs)
            rows = list(duck.findings(con, feeder))
            con.close()
        else:
            from policy_dsl.backends.sql import spark
            rows = list(spark.findings_rows(feeder, inputs))
    finally:
        inputs.close()
    cols = {c: i for i, c in enumerate(duck.COLUMNS)}
    by_seq: dict[int, list] = {}
    for row in rows:
        by_seq.setdefault(row[cols["seq"]], []).append(row)
    out: dict[str, Answer] = {}
    for seq, r in enumerate(records):
        found = []
        outcome = "unlisted"
        for row in by_seq.get(seq, []):
            rule = row[cols["rule"]]
            if row[cols["kind"]] == "conflict":
                rule = f"{rule}/{row[cols['conflict_with']]}"
            idx = row[cols["idx"]]
            element = f"{row[cols['cpath']]}[{idx}]" if idx is not None else None
            o = row[cols["outcome"]]
            wants_missing = row[cols["cref"]] is not None and (o == "review" or row[cols["tolerated_by"]])
            miss = tuple(row[cols["miss"]] or ()) if wants_missing else ()
            found.append((finding_key(rule, element), o, miss))
            if RANK[o] < RANK[outcome]:
                outcome = o
        out[r["id"]] = (outcome, found)
    return out


def python_answer(ev: Evaluator, r: dict, res: RecordResult) -> Answer:
    found = []
    for f in res.findings:
        wants = f.cond is not None and (f.outcome == "review" or f.tolerated_by is not None)
        miss = tuple(sorted(ev.explainer(r, f, res.params).missing(f.cond))) if wants else ()  # type: ignore[arg-type]
        found.append((finding_key(f.rule_id, f.element), f.outcome, miss))
    return res.outcome, found


def disagreement(rid: str, py: Answer, sql: Answer) -> str | None:
    """None when the answers agree; else what differs, naming the record and the rule."""
    if py == sql:
        return None
    if py[0] != sql[0]:
        head = f"record {rid}: outcome python={py[0]} sql={sql[0]}"
    else:
        head = f"record {rid}: outcomes agree ({py[0]})"
    lines = [head]
    pyd = {k: (o, m) for k, o, m in py[1]}
    sqd = {k: (o, m) for k, o, m in sql[1]}
    for k in sorted(set(pyd) | set(sqd)):
        if pyd.get(k) != sqd.get(k):
            lines.append(f"  rule {k}: python={pyd.get(k)} sql={sqd.get(k)}")
    if [x[0] for x in py[1]] != [x[0] for x in sql[1]] and len(lines) == 1:
        lines.append(f"  order: python={[x[0] for x in py[1]]} sql={[x[0] for x in sql[1]]}")
    return "\n".join(lines)
