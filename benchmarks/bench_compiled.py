"""Compiled policies vs the same rules hand-written in Python.

    python benchmarks/bench_compiled.py [--records 100000] [--repeat 3] [--profile]

Fourteen representative rules (below, as policy text) are loaded, checked and compiled to
closures once, then evaluated with `Evaluator.evaluate` over generated, already-parsed
records (Decimal money, `datetime.date`). The same fourteen rules are also written by hand
as plain Python functions with the same three-valued semantics (unknown = None, Kleene
and/or, `unless`, the P3-over-N2 exception per meal, undecided exceptions and tolerance
making a violation a review, outcome precedence). Both must agree on every record's outcome
and findings; the script checks that before timing.

It prints each side's best CPU time over `--repeat` runs, records per second, and the ratio
(compiled / hand-written). Target: at most 1.5×. Benchmarks are run by hand; tests never
assert timings.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checker.schema import record_schema
from policy_dsl.errors import render_all
from policy_dsl.evaluate import Evaluator
from policy_dsl.load import load

POLICY = '''
policy bench.rules "基准规则" / "Benchmark rules"
  version "1"
  in force from 2013-01-01

define enterprise_paid(m) = m.payer in {enterprise, mixed}
define per_person_cny(m) = if m.itemised_per_person_cny is known
                           then m.itemised_per_person_cny else m.total_cny / m.diners
define active_matter = some p in enterprise.pending_matters: p.status == pending

forbid N1 "收受礼金" / "Cash, cards, securities"
  severity critical
  cite "N1"
  for each g in gifts
  when g.direction == received and g.form in {cash, digital_red_envelope, prepaid_card, securities_equity}
  unless g.disposition in {refused, returned, registered_handed_in}

forbid N2 "接受企业宴请" / "Banquet paid by the firm"
  severity high
  cite "N2"
  for each m in meals
  when enterprise_paid(m) and m.format in {banquet, table_meal}

forbid N3 "娱乐活动" / "Entertainment"
  severity critical
  cite "N3"
  when venue.type in {private_club, entertainment_venue, golf_yacht_fitness_club}
    or some a in leisure.activities: a in {ktv, bath_spa, golf, yacht}

forbid N4 "干预招投标" / "Interfering with tenders"
  severity critical
  cite "N4"
  when some x in interventions: x in {recommend_bidder, designate_agent_or_expert, tailor_tender,
                                      leak_info, evade_open_tender}

forbid N5 "亲属利益冲突" / "Relative's interest"
  severity critical
  cite "N5"
  when some rel in enterprise.relatives:
         rel.role in {owner_investor, shareholder, senior_manager} and recusal_recorded != true

forbid N6 "专车接送" / "Door-to-door car"
  severity low
  cite "N6"
  when transport.mode == enterprise_vehicle_dedicated

forbid N7 "企业兼职取酬" / "Paid post in a firm"
  severity critical
  cite "N7"
  when position.kind in {shares, dry_shares, post, consultant, agent}

forbid N8 "乱检查乱收费" / "Arbitrary enforcement"
  severity high
  cite "N8"
  when some a in enforcement_actions: a in {arbitrary_inspection, arbitrary_fee, arbitrary_fine,
                                            donation_demand, benefit_extraction}

boundary B4 "礼品未上交" / "Gift over the hand-in threshold kept"
  severity medium
  cite "B4"
  for each g in gifts
  when g.direction == received and g.value_cny >= param.gift_handin_threshold_cny
   and g.disposition not in {registered_handed_in, returned, refused}

boundary B9 "在办事项期间由企业付费" / "Firm-paid while a matter is pending"
  severity medium
  cite "B9"
  outcome review
  when active_matter and some m in meals: enterprise_paid(m)

permit P3 "公务工作餐" / "Work meal"
  severity medium
  cite "P3"
  for each m in meals
  when m.reason in {missed_meal_due_to_work, remote_location, event_catering}
  require per_person_cny(m) <= param.meal_cap_per_person_cny or m.employee_rate_paid == true else B1
  require m.alcohol == none else B2 as high
  overrides N2

boundary B1 "工作餐超标准" / "Work meal over the cap"
  severity medium
  cite "B1"
  for each m in meals

boundary B2 "工作餐饮酒" / "Alcohol at a work meal"
  severity low
  cite "B2"
  for each m in meals

tolerance B15 "容错事前备案" / "Fault-tolerance pre-registration"
  cite "B15"
  when tolerance.prefiling_id is known and date_of(tolerance.prefiled_at) <= date
   and tolerance.personal_or_unit_gain == false and tolerance.collusion == false
  covers all except N1, N5, N7
'''

PARAMS = '''
jurisdiction: "000000"
name: {zh: 基准, en: Benchmark}
parameters:
  meal_cap_per_person_cny:
    type: money
    values: [{from: 2013-01-01, value: 60, source: bench}]
  gift_handin_threshold_cny:
    type: money
    values: [{from: 2013-01-01, value: 200, source: bench}]
'''

RULE_COUNT = 14
RANK = {"violation": 0, "review": 1, "tolerated": 2, "compliant": 3, "unlisted": 4}


# ---- the same rules, by hand -------------------------------------------------------------
def _and(*xs):
    unknown = False
    for x in xs:
        if x is False:
            return False
        if x is None:
            unknown = True
    return None if unknown else True


def _or(*xs):
    unknown = False
    for x in xs:
        if x is True:
            return True
        if x is None:
            unknown = True
    return None if unknown else False


def _in(x, options):
    return None if x is None else x in options


def _get(d, *path):
    for k in path:
        if d is None:
            return None
        d = d.get(k)
    return d


def _some(items, pred):
    if items is None:
        return None
    unknown = False
    for it in items:
        x = pred(it)
        if x is True:
            return True
        if x is None:
            unknown = True
    return None if unknown else False


def _unless(when, unless):
    if when is False:
        return False
    if unless is True:
        return False
    if when is None or unless is None:
        return None
    return True


N1_FORMS = {"cash", "digital_red_envelope", "prepaid_card", "securities_equity"}
N1_OK = {"refused", "returned", "registered_handed_in"}
N2_FORMATS = {"banquet", "table_meal"}
PAID = {"enterprise", "mixed"}
N3_VENUES = {"private_club", "entertainment_venue", "golf_yacht_fitness_club"}
N3_ACTS = {"ktv", "bath_spa", "golf", "yacht"}
N4_ACTS = {"recommend_bidder", "designate_agent_or_expert", "tailor_tender", "leak_info",
           "evade_open_tender"}
N5_ROLES = {"owner_investor", "shareholder", "senior_manager"}
N7_KINDS = {"shares", "dry_shares", "post", "consultant", "agent"}
N8_ACTS = {"arbitrary_inspection", "arbitrary_fee", "arbitrary_fine", "donation_demand",
           "benefit_extraction"}
P3_REASONS = {"missed_meal_due_to_work", "remote_location", "event_catering"}
CAP, HANDIN = Decimal(60), Decimal(200)
NOT_TOLERATED = {"N1", "N5", "N7"}


def _paid(m):
    return _in(m.get("payer"), PAID)


def _per_person(m):
    item = m.get("itemised_per_person_cny")
    if item is not None:
        return item
    total, diners = m.get("total_cny"), m.get("diners")
    if total is None or diners is None or diners == 0:
        return None
    return Decimal(total) / Decimal(diners)


def _record_rule(out, rid, status, outcome="violation"):
    if status is True:
        out.append([rid, None, outcome])
    elif status is None:
        out.append([rid, None, "review"])


def hand_written(r: dict) -> tuple[str, list]:
    """The fourteen rules as plain Python. Findings: [rule, element index or None, outcome]."""
    out: list = []
    gifts, meals = r.get("gifts"), r.get("meals")
    # N1 and B4, per gift
    if gifts is None:
        out.append(["N1", None, "review"])
        out.append(["B4", None, "review"])
    else:
        for i, g in enumerate(gifts):
            received = None if g.get("direction") is None else g["direction"] == "received"
            s = _unless(_and(received, _in(g.get("form"), N1_FORMS)), _in(g.get("disposition"), N1_OK))
            if s is not False:
                out.append(["N1", i, "violation" if s else "review"])
            v = g.get("value_cny")
            disp = g.get("disposition")
            s = _and(received, None if v is None else v >= HANDIN,
                     None if disp is None else disp not in N1_OK)
            if s is not False:
                out.append(["B4", i, "violation" if s else "review"])
    # N2 and P3 (with B1, B2), per meal; P3 overrides N2 on the same meal
    if meals is None:
        out.append(["N2", None, "review"])
        out.append(["P3", None, "review"])
        p3_status = {}
    else:
        p3_status = {}
        n2 = {}
        for i, m in enumerate(meals):
            s = _and(_paid(m), _in(m.get("format"), N2_FORMATS))
            if s is not False:
                n2[i] = s
            when = _in(m.get("reason"), P3_REASONS)
            if when is None:
                out.append(["P3", i, "review"])
                p3_status[i] = None
            elif when:
                pp = _per_person(m)
                rate = m.get("employee_rate_paid")
                r1 = _or(None if pp is None else pp <= CAP, None if rate is None else rate is True)
                alc = m.get("alcohol")
                r2 = None if alc is None else alc == "none"
                if r1 is True and r2 is True:
                    out.append(["P3", i, "compliant"])
                    p3_status[i] = True
                else:
                    if r1 is not True:
                        out.append(["B1", i, "violation" if r1 is False else "review"])
                    if r2 is not True:
                        out.append(["B2", i, "violation" if r2 is False else "review"])
                    p3_status[i] = False if (r1 is False or r2 is False) else None
        for i, s in n2.items():
            p3 = p3_status.get(i, False)
            if p3 is True:
                continue  # suppressed by P3
            if s is True and p3 is None and i in p3_status:
                out.append(["N2", i, "review"])
            else:
                out.append(["N2", i, "violation" if s else "review"])
    # record-level forbids
    _record_rule(out, "N3", _or(_in(_get(r, "venue", "type"), N3_VENUES),
                                _some(_get(r, "leisure", "activities"), lambda a: a in N3_ACTS)))
    _record_rule(out, "N4", _some(r.get("interventions"), lambda x: x in N4_ACTS))
    rec = r.get("recusal_recorded")
    _record_rule(out, "N5", _some(_get(r, "enterprise", "relatives"), lambda rel: _and(
        _in(rel.get("role"), N5_ROLES), None if rec is None else rec is not True)))
    mode = _get(r, "transport", "mode")
    _record_rule(out, "N6", None if mode is None else mode == "enterprise_vehicle_dedicated")
    _record_rule(out, "N7", _in(_get(r, "position", "kind"), N7_KINDS))
    _record_rule(out, "N8", _some(r.get("enforcement_actions"), lambda a: a in N8_ACTS))
    matter = _some(_get(r, "enterprise", "pending_matters"),
                   lambda p: None if p.get("status") is None else p["status"] == "pending")
    _record_rule(out, "B9", _and(matter, _some(meals, _paid)), "review")
    # B15 tolerance
    t = r.get("tolerance") or {}
    at = t.get("prefiled_at")
    gain, coll = t.get("personal_or_unit_gain"), t.get("collusion")
    tol = _and(t.get("prefiling_id") is not None, None if at is None else at.date() <= r["date"],
               None if gain is None else gain is False, None if coll is None else coll is False)
    if tol is True:
        covered = False
        for f in out:
            if f[0] not in NOT_TOLERATED and f[2] in ("violation", "review"):
                f[2] = "tolerated"
                covered = True
        if covered:
            out.append(["B15", None, "tolerated"])
    elif tol is None:
        for f in out:
            if f[0] not in NOT_TOLERATED and f[2] == "violation":
                f[2] = "review"
    outcome = min((f[2] for f in out), key=RANK.__getitem__, default="unlisted")
    return outcome, out


# ---- records -------------------------------------------------------------------------------
def maybe(rng: random.Random, value, p_missing: float = 0.08):
    return None if rng.random() < p_missing else value


def generate(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    start = dt.date(2023, 1, 1)
    out = []
    for i in range(n):
        day = start + dt.timedelta(days=rng.randrange(900))
        rec: dict = {"id": f"R{i}", "stage": "completed", "jurisdiction": "150302", "date": day,
                     "official": {"id": f"O-{rng.randrange(500)}"}}
        meals = []
        for _ in range(rng.choice((0, 1, 1, 1, 2, 3))):
            meals.append({k: v for k, v in {
                "reason": maybe(rng, rng.choice(("missed_meal_due_to_work", "remote_location",
                                                 "social", "event_catering", "celebration"))),
                "format": maybe(rng, rng.choice(("buffet", "set_meal", "table_meal", "banquet"))),
                "payer": maybe(rng, rng.choice(("enterprise", "official_self", "own_unit", "mixed"))),
                "total_cny": maybe(rng, Decimal(rng.randrange(2000, 80000)) / 100),
                "diners": maybe(rng, rng.randrange(1, 12)),
                "employee_rate_paid": maybe(rng, rng.random() < 0.2),
                "alcohol": maybe(rng, rng.choice(("none", "none", "none", "ordinary"))),
            }.items() if v is not None})
        gifts = []
        for _ in range(rng.choice((0, 0, 0, 1, 2))):
            gifts.append({k: v for k, v in {
                "direction": maybe(rng, rng.choice(("received", "received", "given"))),
                "form": maybe(rng, rng.choice(("cash", "goods", "local_specialty", "prepaid_card",
                                               "promo_material"))),
                "value_cny": maybe(rng, Decimal(rng.randrange(1000, 60000)) / 100),
                "disposition": maybe(rng, rng.choice(("returned", "registered_kept", "pending",
                                                      "kept_unregistered", "refused"))),
            }.items() if v is not None})
        rec["meals"] = maybe(rng, meals, 0.03)
        rec["gifts"] = maybe(rng, gifts, 0.03)
        rec["venue"] = {"type": maybe(rng, rng.choice(("enterprise_canteen", "ordinary_restaurant",
                                                        "government_canteen", "private_club")))}
        rec["leisure"] = {"activities": maybe(rng, rng.choice(([], [], [], ["ktv"], ["sightseeing"])))}
        rec["interventions"] = maybe(rng, rng.choice(([], [], [], [], ["leak_info"])), 0.03)
        rec["enforcement_actions"] = maybe(rng, rng.choice(([], [], [], ["arbitrary_fee"])), 0.03)
        rec["enterprise"] = {
            "uscc": "91150300MA0N000000",
            "relatives": maybe(rng, rng.choice(([], [], [{"role": "shareholder"}], [{"role": "none"}]))),
            "pending_matters": maybe(rng, rng.choice(([], [], [{"status": "pending"}],
                                                       [{"status": "decided"}]))),
        }
        rec["recusal_recorded"] = maybe(rng, rng.random() < 0.5, 0.3)
        rec["transport"] = {"mode": maybe(rng, rng.choice(("own_unit_vehicle", "public_transport",
                                                            "enterprise_vehicle_dedicated")))}
        rec["position"] = {"kind": maybe(rng, rng.choice(("none", "none", "none", "consultant")))}
        if rng.random() < 0.05:
            rec["tolerance"] = {
                "prefiling_id": "RF-1",
                "prefiled_at": dt.datetime.combine(day - dt.timedelta(days=rng.randrange(-3, 10)),
                                                   dt.time(9), dt.timezone(dt.timedelta(hours=8))),
                "personal_or_unit_gain": maybe(rng, False, 0.2), "collusion": maybe(rng, False, 0.2)}
        out.append({k: v for k, v in rec.items() if v is not None})
    return out


# ---- running -------------------------------------------------------------------------------
def compiled_evaluator() -> Evaluator:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "params").mkdir()
        (folder / "params" / "000000.yaml").write_text(PARAMS, encoding="utf-8")
        (folder / "bench.policy").write_text(POLICY, encoding="utf-8")
        result = load([folder], record_schema())
    if not result.ok:
        raise SystemExit(render_all(result.errors, result.sources))
    assert len(result.program.rules) == RULE_COUNT
    return Evaluator(result.program, result.params)


def normalised(outcome: str, findings) -> tuple:
    return outcome, sorted((rule, idx, out) for rule, idx, out in findings)


def check_agreement(ev: Evaluator, records: list[dict]) -> None:
    for r in records:
        res = ev.evaluate(r)
        got = normalised(res.outcome, [(f.rule_id, f.scope[1] if f.scope else None, f.outcome)
                                       for f in res.findings])
        want = normalised(*hand_written(r))
        if got != want:
            raise SystemExit(f"compiled and hand-written disagree on {r['id']}:\n{got}\n{want}\n{r}")


def cpu_time(fn, records: list[dict]) -> float:
    t0 = time.process_time()
    for r in records:
        fn(r)
    return time.process_time() - t0


def best_times(ev: Evaluator, records: list[dict], repeat: int) -> tuple[float, float]:
    """The best CPU time of each side, alternating the runs so that a busy machine slows
    both alike."""
    compiled = hand = float("inf")
    for _ in range(repeat):
        compiled = min(compiled, cpu_time(ev.evaluate, records))
        hand = min(hand, cpu_time(hand_written, records))
    return compiled, hand


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="profile the compiled run instead")
    args = ap.parse_args()
    records = generate(args.records)
    ev = compiled_evaluator()
    check_agreement(ev, records)
    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(lambda: [ev.evaluate(r) for r in records])
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    compiled, hand = best_times(ev, records, args.repeat)
    n = len(records)
    print(f"{RULE_COUNT} rules, {n} records (outcomes and findings identical on every record)")
    print(f"compiled policy : {compiled:7.3f} s  {n / compiled:10,.0f} records/s")
    print(f"hand-written    : {hand:7.3f} s  {n / hand:10,.0f} records/s")
    print(f"ratio           : {compiled / hand:7.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
