"""Views of the record kinds beyond interactions (issue 16; record-kinds.md §10), computed from
the records as read and the findings of a check: by responsible unit, by quarter, by problem
class, the overdue list in working days, the escalation list of the ratings, problem-list
completion. Every view is a list of flat rows (the JSON, HTML and XLSX writers show them as
tables, Chinese first). Dates are ISO text; rates are exact decimals rounded to 0.1 %."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from policy_dsl import values

VIEWS = ("by_unit", "by_quarter", "by_class", "overdue", "escalation", "problem_lists")
TITLES = {
    "by_unit": ("按责任单位", "By responsible unit"),
    "by_quarter": ("按季度", "By quarter"),
    "by_class": ("按问题分类", "By problem class"),
    "overdue": ("逾期清单（工作日）", "Overdue (working days)"),
    "escalation": ("作风评议结果运用清单", "Ratings, measures due"),
    "problem_lists": ("问题清单整改完成率", "Problem-list completion"),
}
COLUMNS = {
    "by_unit": ["unit", "kind", "records", "open", "closed", "closed_on_time", "overdue", "feedback_owed",
                "feedback_given", "closure_rate", "on_time_rate", "feedback_rate", "avg_working_days_to_close"],
    "by_quarter": ["quarter", "kind", "received", "closed", "by_channel", "by_category"],
    "by_class": ["taxonomy", "area", "class", "complaints", "problem_items", "substantiated", "substantiated_share"],
    "overdue": ["id", "kind", "unit", "rule", "due", "on", "working_days_overdue"],
    "escalation": ["id", "quarter", "unit", "rank", "units_rated", "from_bottom", "measures_required", "rule",
                   "status", "measures_taken"],
    "problem_lists": ["list", "source", "items", "rectified", "verified", "open", "overdue", "completion_rate"],
}
HEADERS_ZH = {
    "unit": "单位", "kind": "记录类型", "records": "记录数", "open": "未办结", "closed": "已办结", "closed_on_time": "按期办结",
    "overdue": "逾期", "feedback_owed": "应答复", "feedback_given": "已答复", "closure_rate": "办结率",
    "on_time_rate": "按期办结率", "feedback_rate": "反馈率", "avg_working_days_to_close": "平均办结工作日",
    "quarter": "季度", "received": "收到", "by_channel": "按渠道", "by_category": "按类别", "taxonomy": "分类体系",
    "area": "方面", "class": "类别", "complaints": "线索投诉", "problem_items": "问题清单事项", "substantiated": "属实",
    "substantiated_share": "属实占比", "id": "编号", "rule": "规则", "due": "到期日", "on": "办结/截至",
    "working_days_overdue": "逾期工作日", "rank": "名次", "units_rated": "参评单位数", "from_bottom": "倒数名次",
    "measures_required": "应采取措施", "status": "状态", "measures_taken": "已采取措施", "list": "清单",
    "source": "来源", "items": "事项数", "rectified": "已整改", "verified": "已销号", "completion_rate": "整改完成率",
}
OVERDUE_RULES = {"CP1": "complaint", "PI1": "problem_item", "PI1.blocked": "problem_item"}
RATING_RULES = ("UR1", "UR2", "UR3")


def _rate(a: int, b: int) -> str | None:
    if not b:
        return None
    return str((Decimal(100 * a) / b).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)) + "%"


def _d(x: Any) -> dt.date | None:
    if isinstance(x, dt.date):
        return x
    try:
        return dt.date.fromisoformat(str(x)[:10]) if x else None
    except ValueError:
        return None


def _get(r: dict, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(r, dict):
            return None
        r = r.get(part)
    return r


def _quarter(d: dt.date | None) -> str | None:
    return None if d is None else f"{d.year}Q{(d.month - 1) // 3 + 1}"


def _unit(r: dict) -> str:
    kind = r.get("record_kind")
    unit = _get(r, "handling.unit") if kind == "complaint" else r.get("unit")
    if kind == "unit_rating":
        unit = r.get("rater") or unit
    if not isinstance(unit, dict):
        return "（未知）"
    return unit.get("name") or unit.get("id") or "（未知）"


class Views:
    """Accumulates records (data as read, normalised) with their report entries."""

    def __init__(self, params: Callable[[str, dt.date], dict], as_of: dt.date | None = None):
        self.params = params  # (jurisdiction, day) -> the parameters in force there and then
        self.as_of = as_of
        self.pairs: list[tuple[dict, dict]] = []

    def add(self, record: dict, entry: dict) -> None:
        if record.get("record_kind") not in (None, "interaction") and entry.get("outcome") != "invalid":
            self.pairs.append((record, entry))

    def _as_of(self, r: dict) -> dt.date | None:
        return _d(r.get("as_of")) or self.as_of

    def _wdays(self, r: dict, a: dt.date | None, b: dt.date | None) -> int | None:
        if a is None or b is None:
            return None
        cal = self.params(r["jurisdiction"], _d(r["date"])).get("working_calendar")
        return None if cal is None else values.working_days_between(cal, a, b)

    def compute(self) -> dict[str, list[dict]]:
        return {name: getattr(self, "_" + name)() for name in VIEWS}

    def _by_unit(self) -> list[dict]:
        acc: dict[tuple[str, str], Counter] = defaultdict(Counter)
        days: dict[tuple[str, str], list[int]] = defaultdict(list)
        for r, e in self.pairs:
            kind = r["record_kind"]
            key = (_unit(r), kind)
            c = acc[key]
            c["records"] += 1
            rules = {f["rule"] for f in e["findings"]}
            if kind == "complaint" and r.get("category") in ("complaint", "report"):
                closed = _get(r, "handling.status") == "closed"
                c["closed" if closed else "open"] += 1
                c["overdue"] += "CP1" in rules
                c["closed_on_time"] += closed and "CP1" not in rules and _get(r, "handling.closed_on") is not None
                if closed and (_get(r, "complainant.reachable") is True):
                    c["feedback_owed"] += 1
                    c["feedback_given"] += _get(r, "feedback.given") is True
                start = _d(_get(r, "transfer.on")) if _get(r, "transfer.transferred") else _d(r["date"])
                n = self._wdays(r, start, _d(_get(r, "handling.closed_on"))) if closed else None
                if n is not None:
                    days[key].append(n)
            elif kind == "problem_item":
                fixed = r.get("status") in ("rectified", "verified_closed")
                c["closed" if fixed else "open"] += 1
                c["overdue"] += bool(rules & {"PI1", "PI1.blocked"})
                c["closed_on_time"] += fixed and "PI1" not in rules
        out = []
        for (unit, kind), c in sorted(acc.items()):
            closed, n = c["closed"], days[(unit, kind)]
            out.append({"unit": unit, "kind": kind, "records": c["records"], "open": c["open"], "closed": closed,
                        "closed_on_time": c["closed_on_time"], "overdue": c["overdue"],
                        "feedback_owed": c["feedback_owed"], "feedback_given": c["feedback_given"],
                        "closure_rate": _rate(closed, closed + c["open"]), "on_time_rate": _rate(c["closed_on_time"], closed),
                        "feedback_rate": _rate(c["feedback_given"], c["feedback_owed"]),
                        "avg_working_days_to_close": (str((Decimal(sum(n)) / len(n)).quantize(Decimal("0.1")))
                                                      if n else None)})
        return out

    def _by_quarter(self) -> list[dict]:
        acc: dict[tuple[str, str], dict] = {}
        for r, _e in self.pairs:
            kind = r["record_kind"]
            if kind not in ("complaint", "problem_item"):
                continue
            q = _quarter(_d(r["date"]))
            row = acc.setdefault((q, kind), {"quarter": q, "kind": kind, "received": 0, "closed": 0,
                                             "by_channel": Counter(), "by_category": Counter()})
            row["received"] += 1
            if kind == "complaint":
                row["closed"] += _get(r, "handling.status") == "closed"
                row["by_channel"][r.get("channel") or "unknown"] += 1
                row["by_category"][r.get("category") or "unknown"] += 1
            else:
                row["closed"] += r.get("status") in ("rectified", "verified_closed")
                row["by_category"][_get(r, "source.kind") or "unknown"] += 1
        return [{**row, "by_channel": dict(sorted(row["by_channel"].items())),
                 "by_category": dict(sorted(row["by_category"].items()))} for _k, row in sorted(acc.items())]

    def _by_class(self) -> list[dict]:
        acc: dict[tuple, Counter] = defaultdict(Counter)
        for r, _e in self.pairs:
            pc = r.get("problem_class")
            if r["record_kind"] not in ("complaint", "problem_item") or not isinstance(pc, dict):
                continue
            c = acc[(pc.get("taxonomy") or "", pc.get("area") or "", pc.get("class") or "")]
            c["complaints" if r["record_kind"] == "complaint" else "problem_items"] += 1
            c["substantiated"] += _get(r, "handling.result") in ("substantiated", "partly_substantiated")
        return [{"taxonomy": t, "area": a, "class": k, "complaints": c["complaints"], "problem_items": c["problem_items"],
                 "substantiated": c["substantiated"], "substantiated_share": _rate(c["substantiated"], c["complaints"])}
                for (t, a, k), c in sorted(acc.items())]

    def _overdue(self) -> list[dict]:
        out = []
        for r, e in self.pairs:
            for f in e["findings"]:
                if f["rule"] not in OVERDUE_RULES or f["outcome"] not in ("violation", "review"):
                    continue
                due, done = self._due(r)
                out.append({"id": r["id"], "kind": r["record_kind"], "unit": _unit(r), "rule": f["rule"],
                            "due": due and due.isoformat(), "on": done and done.isoformat(),
                            "working_days_overdue": self._wdays(r, due, done)})
        return sorted(out, key=lambda x: (-(x["working_days_overdue"] or 0), x["id"]))

    def _due(self, r: dict) -> tuple[dt.date | None, dt.date | None]:
        """The due day and the day it was met or judged (closed/fixed, else as of), as the packs
        compute them (common.complaints, common.problems)."""
        p = self.params(r["jurisdiction"], _d(r["date"]))
        cal = p.get("working_calendar")

        def add(d: dt.date, n: Any) -> dt.date | None:
            return None if cal is None or n is None else values.add_working_days(cal, d, n)

        if r["record_kind"] == "complaint":
            h = r.get("handling") or {}
            start = _d(_get(r, "transfer.on")) if _get(r, "transfer.transferred") else _d(r["date"])
            n = h.get("deadline_working_days")
            due = _d(h.get("deadline_on")) or (add(start, n if n is not None else p.get("complaint_deadline_working_days"))
                                               if start else None)
            ext = h.get("extension") or {}
            if _d(ext.get("approved_on")) and _d(ext.get("new_deadline_on")) and due and _d(ext["approved_on"]) <= due:
                due = _d(ext["new_deadline_on"])
            done = _d(h.get("closed_on")) if h.get("status") == "closed" else self._as_of(r)
            return due, done
        start = _d(r.get("fed_back_on")) or _d(r["date"])
        if r.get("deadline_on"):
            due = _d(r["deadline_on"])
        elif r.get("deadline_working_days") is not None:
            due = add(start, r["deadline_working_days"])
        else:
            due = add(start, p.get("immediate_fix_working_days")) if r.get("immediate") else None
        fixed = r.get("status") in ("rectified", "verified_closed")
        return due, (_d(r.get("rectified_on")) if fixed else self._as_of(r))

    def _escalation(self) -> list[dict]:
        out = []
        for r, e in self.pairs:
            if r["record_kind"] != "unit_rating" or r.get("scheme") != "conduct_review":
                continue
            rank, total = r.get("rank"), r.get("units_rated")
            if not isinstance(rank, int) or not isinstance(total, int):
                continue
            fb = total - rank + 1
            if fb > 5:
                continue
            required = ("提醒谈话（当事人、分管领导）" if fb > 3
                        else "通报批评、停职检查（当事人），约谈一把手、分管领导")
            found = [f for f in e["findings"] if f["rule"] in RATING_RULES]
            if any(f["rule"] == "UR3" for f in found) or any(
                    m.get("kind") in ("recommend_reassignment", "recommend_removal") for m in r.get("measures") or []):
                required += "；年内第二次：建议调整岗位或免职"
            status = found[0]["outcome"] if found else "done_or_pending"
            out.append({"id": r["id"], "quarter": f"{_get(r, 'period.year')}Q{_get(r, 'period.quarter')}",
                        "unit": _get(r, "unit.name") or _get(r, "unit.id"), "rank": rank, "units_rated": total,
                        "from_bottom": fb, "measures_required": required,
                        "rule": " ".join(f["rule"] for f in found) or None, "status": status,
                        "measures_taken": "; ".join(f"{m.get('kind')}:{m.get('target')}@{m.get('on')}"
                                                    for m in r.get("measures") or [])})
        return sorted(out, key=lambda x: (x["quarter"], x["from_bottom"], x["id"]))

    def _problem_lists(self) -> list[dict]:
        acc: dict[tuple[str, str], Counter] = defaultdict(Counter)
        for r, e in self.pairs:
            if r["record_kind"] != "problem_item":
                continue
            c = acc[(_get(r, "list.name") or _get(r, "list.id") or "（未知）", _get(r, "source.kind") or "unknown")]
            c["items"] += 1
            fixed = r.get("status") in ("rectified", "verified_closed")
            c["rectified"] += fixed
            c["verified"] += r.get("status") == "verified_closed"
            c["open"] += not fixed
            c["overdue"] += any(f["rule"] in ("PI1", "PI1.blocked") for f in e["findings"])
        return [{"list": k, "source": s, **{x: c[x] for x in ("items", "rectified", "verified", "open", "overdue")},
                 "completion_rate": _rate(c["rectified"], c["items"])} for (k, s), c in sorted(acc.items())]


def headers(name: str, lang: str) -> list[str]:
    return [HEADERS_ZH.get(c, c) if lang == "zh" else c for c in COLUMNS[name]]


def cell(v: Any) -> Any:
    if isinstance(v, dict):
        return "; ".join(f"{k} {n}" for k, n in v.items())
    return v


def rows(views: dict[str, list[dict]], name: str) -> Iterable[list[Any]]:
    for row in views[name]:
        yield [cell(row.get(c)) for c in COLUMNS[name]]
