"""Rule dispatch: from a few enum/bool fields of a record (whether some others are known, and
whether some lists are empty), the rules that cannot fire are skipped and the conditions
those fields decide alone are not evaluated at all; a `for each` rule over an empty list is
skipped too (it has no elements, so no findings).

For each record the chosen fields make a key; for each list of rules in force and key, a plan
(cached, bounded) lists every rule with its condition's status when the key decides it
(`True`, `False` or `None` = unknown, by `guards.possible`), else `EVALUATE`. A rule whose status
is False produces no finding: the evaluator skips it (a `for each` rule still reads its list,
which may be unknown). The statuses are those the closures would compute, so results do not
change; `--explain` (trace) evaluates everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import ir
from .backends.python import compile_elem, compile_expr
from .guards import (
    EMPTY,
    ENUM_KINDS,
    KNOWN,
    Path,
    guard_fields,
    list_fields,
    possible,
    record_path,
    residual,
)

EVALUATE: Any = object()  # the condition is not decided by the key: evaluate it
MIN_SCORE = 20  # see choose_fields
MIN_GAIN = 2  # see choose_fields
MAX_FIELDS = 24  # fields read per record to make the key
MAX_RULE_FIELDS = 8  # a condition reading more fields than this is not analysed
# Cache bounds (each cache is emptied when full): a plan is a list of a few dozen tuples, so
# plans take at most a few tens of MB however many distinct keys and rule lists a batch has.
_PLAN_LIMIT = 2048  # plans per distinct rule list
_LISTS_LIMIT = 8  # distinct rule lists (by content) with plans
_STATUS_LIMIT = 65_536  # (rule, the key values it reads) → status and closures
_COMPILED_LIMIT = 4096  # residual conditions compiled


def refuting_fields(e: ir.Expr) -> tuple[frozenset[tuple[Path, bool]], bool] | None:
    """Fields whose values can show `e` False (an `and`: one of its items, preferring atoms
    that are usually false, `F == c`, `F in {…}`, `F is missing`; an `or`: all of its items),
    each with whether it is read by value, and whether the choice is usually false; None
    when no record field can."""
    if isinstance(e, ir.And):
        options = [o for o in (refuting_fields(i) for i in e.items) if o is not None]
        if not options:
            return None
        return min(options, key=lambda o: (not o[1], len(o[0]), sorted(o[0])))
    if isinstance(e, ir.Or):
        fields: frozenset[tuple[Path, bool]] = frozenset()
        likely = True
        for i in e.items:
            o = refuting_fields(i)
            if o is None:
                return None
            fields, likely = fields | o[0], likely and o[1]
        return fields, likely
    flip = False
    if isinstance(e, ir.Not):
        e, flip = e.operand, True
    if isinstance(e, ir.Cmp) and e.op in ("==", "!="):
        side, likely = e.left, e.op == "=="
        if not isinstance(e.right, ir.Const) or e.right.value is None:
            return None
    elif isinstance(e, ir.InSet):
        side, likely = e.item, not e.negated
        if not all(isinstance(o, ir.Const) and o.value is not None for o in e.options):
            return None
    elif isinstance(e, ir.IsKnown):
        side, likely = e.operand, e.negated
    else:
        return None
    path = record_path(side)
    if path is None or len(path) > 2:
        return None
    by_value = side.type.kind in ENUM_KINDS and not isinstance(e, ir.IsKnown)
    if not by_value and not isinstance(e, ir.IsKnown):
        return None  # a string or number compared by value: too many values to key on
    return frozenset({(path, by_value)}), likely != flip


def choose_fields(conds: Sequence[ir.Expr]) -> list[tuple[Path, bool]]:
    """The fields to key on, in a stable order: enum and bool fields compared in conditions
    (by value), and fields whose being missing shows a condition False (see
    `refuting_fields`; only whether they are known). Reading a field costs about as much as
    evaluating a few nodes, so a field is chosen only when the conditions it takes part in
    are large enough: its score, the sum over those conditions of their size shared among
    their fields, must reach MIN_SCORE; at most MAX_FIELDS, best first."""
    score: dict[Path, float] = {}
    by_value: set[Path] = set()
    for cond in conds:
        fields: dict[Path, bool] = {}
        found = refuting_fields(cond)
        if found is not None and found[1] and len(found[0]) <= MAX_RULE_FIELDS:
            fields.update(found[0])  # (not when only unusual values would show it False)
        for p, value in guard_fields(cond):
            if value and len(p) <= 2:
                fields[p] = True
        if not fields:
            continue
        size = sum(1 for _ in ir.walk(cond))
        for p, value in fields.items():
            if value:
                by_value.add(p)
            score[p] = score.get(p, 0.0) + size / len(fields)
    ranked = sorted((p for p in score if score[p] >= MIN_SCORE), key=lambda p: (-score[p], p))
    chosen = {p: p in by_value for p in ranked[:MAX_FIELDS]}
    # Then conditions that their fields can show False, when skipping them saves more
    # operations than reading their missing fields costs (one each), biggest saving first.
    todo = []
    for cond in conds:
        found = refuting_fields(cond)
        if found is not None and found[1] and len(found[0]) <= MAX_RULE_FIELDS:
            todo.append((_ops(cond), found[0]))
    while todo and len(chosen) < MAX_FIELDS:
        gains = [(ops - sum(1 for p, _ in fields if p not in chosen), i)
                 for i, (ops, fields) in enumerate(todo)]
        gain, i = max(gains, key=lambda g: (g[0], -g[1]))
        if gain < MIN_GAIN or len(chosen) + len(todo[i][1]) > MAX_FIELDS:
            break
        for p, value in todo.pop(i)[1]:
            chosen[p] = chosen.get(p, False) or value
    return sorted(chosen.items())


def choose_lists(rules: Sequence[Any]) -> list[Path]:
    """The lists to key on being empty: those of `for each` rules and of quantifiers, counts,
    sums and `length` in conditions (record fields, one or two names deep), in a stable order.
    Most records leave most of them empty, which skips or decides the rules over them."""
    out: set[Path] = set()
    for c in rules:
        if c.coll_ir is not None:
            path = record_path(c.coll_ir)
            if path is not None:
                out.add(path)
        if c.cond_ir is not None and c.ir.kind != "tolerance":
            out |= list_fields(c.cond_ir)
    return sorted(p for p in out if len(p) <= 2)


def _ops(e: ir.Expr) -> int:
    """The operations evaluating `e` takes, roughly: its nodes other than constants, fields
    and variables (a field read is fused into the comparison reading it)."""
    return sum(1 for n in ir.walk(e) if not isinstance(n, (ir.Const, ir.Field, ir.Var)))


_KEY_TYPES = frozenset({str, bool, type(None)})


def _key_fn(fields: Sequence[tuple[Path, bool]], lists: Sequence[Path] = ()):
    """(key function, the fields' paths in key order, where the known-only fields start).
    The key of a record is the values of the fields read by value (str, bool or None), then
    for each other field whether it is missing, then for each list in `lists` None (missing),
    True (empty) or False; None when a value is of another type or a field's parent is not an
    object, or a list is not a list (a record of an unexpected shape: no dispatch). Paths are
    one or two names deep."""
    def groups(paths: Sequence[Path]) -> list[tuple[str | None, tuple[str, ...]]]:
        out: dict[str | None, list[str]] = {}
        for path in paths:
            top, name = (None, path[0]) if len(path) == 1 else path
            out.setdefault(top, []).append(name)
        return [(top, tuple(names)) for top, names in out.items()]

    by_value = groups([p for p, v in fields if v])
    by_known = groups([p for p, v in fields if not v])
    by_empty = groups(lists)
    nones = {n: (None,) * n for n in range(len(fields) + len(lists) + 1)}

    def key(r: dict) -> tuple | None:
        vals: list = []
        add = vals.append
        for top, names in by_value:
            x = r if top is None else r.get(top)
            if type(x) is dict:
                for n in names:
                    add(x.get(n))
            elif x is None:
                vals += nones[len(names)]
            else:
                return None
        if not _KEY_TYPES.issuperset(map(type, vals)):
            return None
        for top, names in by_known:
            x = r if top is None else r.get(top)
            if type(x) is dict:
                for n in names:
                    add(x.get(n) is None)
            elif x is None:
                vals += (True,) * len(names)
            else:
                return None
        for top, names in by_empty:
            x = r if top is None else r.get(top)
            if type(x) is dict:
                for n in names:
                    items = x.get(n)
                    if items is None:
                        add(None)
                    elif type(items) is list:
                        add(not items)
                    else:
                        return None
            elif x is None:
                vals += nones[len(names)]
            else:
                return None
        return tuple(vals)

    order = [((top,) if top else ()) + (n,) for grp in (by_value, by_known, by_empty)
             for top, names in grp for n in names]
    known_from = sum(len(names) for _, names in by_value)
    return key, order, known_from


class Dispatch:
    """Per-record condition statuses for a program's compiled rules (`evaluate.CompiledRule`,
    indexed by their `order`)."""

    def __init__(self, rules: Sequence[Any]):
        conds = [c.cond_ir for c in rules if c.cond_ir is not None and c.ir.kind != "tolerance"]
        self.fields = choose_fields(conds)
        self.lists = choose_lists(rules)
        self.key, paths, self._known_from = _key_fn(self.fields, self.lists)
        self.paths: list[Path] = paths  # in key order
        self._lists_from = len(paths) - len(self.lists)
        self.rules = list(rules)
        position = {p: i for i, p in enumerate(paths[:self._lists_from])}
        emptiness = {p: i for i, p in enumerate(paths) if i >= self._lists_from}
        # For each rule: the key positions its condition reads (none: always evaluated), and
        # the position saying whether its `for each` list is empty (None: not keyed).
        self._reads: list[tuple[int, ...]] = []
        self._coll_pos: list[int | None] = []
        for c in self.rules:
            used: set[int] = set()
            if c.cond_ir is not None and c.ir.kind != "tolerance":
                used = {position[p] for p, _ in guard_fields(c.cond_ir) if p in position}
                used |= {emptiness[p] for p in list_fields(c.cond_ir) if p in emptiness}
            self._reads.append(tuple(sorted(used)))
            coll = record_path(c.coll_ir) if c.coll_ir is not None else None
            self._coll_pos.append(emptiness.get(coll) if coll is not None else None)
        self._tables: dict[int, tuple[Sequence[Any], dict]] = {}  # id(rules) → (rules, plans)
        self._shared: dict[tuple[int, ...], dict] = {}  # plans of equal rule lists
        self._status: dict[tuple, tuple] = {}
        self._default = [(c, EVALUATE, c.cond, c.elem, c.coll, c.windowed) for c in self.rules]
        self._compiled: dict[ir.Expr, tuple] = {}  # residual condition → closures

    def plan(self, rules: Sequence[Any], r: dict, everything: bool = False) -> list[tuple]:
        """[(rule, status, condition, element condition, its list, windowed)] for the rules in
        force on this record, in their order, without the rules whose condition is False on it (a `for each`
        rule stays, with status False: its list decides whether it is unknown; unless the key
        says its list is empty). Status is the
        condition's value when the record's key decides it (True, False or None), else
        EVALUATE, and the closures are those of the condition with what the key decides folded
        away (`guards.residual`). With `everything` (tracing), when no field is worth a key,
        or for a record that cannot be keyed: every rule, EVALUATE, its own closures."""
        entry = self._tables.get(id(rules))
        if entry is None or entry[0] is not rules:
            entry = self._entry(rules)
        if everything or not self.paths:
            return entry[2]
        key = self.key(r)
        if key is None:
            return entry[2]
        plans = entry[1]
        hit = plans.get(key)
        if hit is None:
            if len(plans) >= _PLAN_LIMIT:
                plans.clear()
            hit = plans[key] = [st for c in rules if self._kept(st := self.step(c, key), key)]
        return hit

    def _kept(self, step: tuple, key: tuple) -> bool:
        """Whether a plan keeps a rule's step: a rule whose condition is False on this key has
        no finding, unless it is a `for each` rule (its list may be unknown), except over an
        empty list (no elements: nothing to find; the other rules do not depend on it)."""
        c = step[0]
        if c.coll is None:
            return step[1] is not False
        pos = self._coll_pos[c.order]
        return pos is None or key[pos] is not True

    def _entry(self, rules: Sequence[Any]) -> tuple:
        if len(self._tables) >= 4096:
            self._tables.clear()
        content = tuple(c.order for c in rules)
        plans = self._shared.get(content)
        if plans is None:
            if len(self._shared) >= _LISTS_LIMIT:
                self._shared.clear()
                self._tables.clear()  # (their plans go too)
            plans = self._shared[content] = {}
        every = [self._default[c.order] for c in rules]
        entry = self._tables[id(rules)] = (rules, plans, every)
        return entry

    def status(self, i: int, key: tuple) -> Any:
        """The status of rule `i`'s condition on any record with this key, or EVALUATE."""
        return self.step(self.rules[i], key)[1]

    def step(self, c: Any, key: tuple) -> tuple:
        """(rule, status or EVALUATE, condition closure, element closure, its list, windowed)
        of rule `c` for this key (one tuple, shared by every plan)."""
        reads = self._reads[c.order]
        if not reads:
            return self._default[c.order]
        sub = (c.order, *(key[j] for j in reads))
        hit = self._status.get(sub)
        if hit is None:
            facts = {self.paths[j]: self._fact(j, key[j]) for j in reads}
            s = possible(c.cond_ir, facts)
            if s is not None and len(s) == 1 and KNOWN not in s:
                hit = (c, next(iter(s)), c.cond, c.elem, c.coll, c.windowed)
            else:
                res = residual(c.cond_ir, facts)
                if res is c.cond_ir:
                    hit = self._default[c.order]
                else:
                    hit = (c, EVALUATE, *self._residual(c, res), c.coll, c.windowed)
            if len(self._status) >= _STATUS_LIMIT:
                self._status.clear()
            self._status[sub] = hit
        return hit

    def _fact(self, j: int, value: Any) -> Any:
        """What key position `j` says of its field (see `guards`): its value; for a field keyed
        on being known, None or KNOWN; for a list keyed on being empty, None, EMPTY or KNOWN."""
        if j < self._known_from:
            return value
        if j < self._lists_from:
            return None if value else KNOWN
        return None if value is None else EMPTY if value else KNOWN

    def _residual(self, c: Any, res: ir.Expr) -> tuple[Any, Any]:
        """The closures (condition, element condition) of a residual condition of `c`."""
        try:  # equal residuals (of other keys) share their closures
            hit = self._compiled.get(res)
        except TypeError:  # an unhashable constant: compiled for this key only
            hit = None
        if hit is None:
            elem = compile_elem(res, c.var) if c.var is not None else None
            hit = (compile_expr(res), elem)
            if len(self._compiled) >= _COMPILED_LIMIT:
                self._compiled.clear()
            try:
                self._compiled[res] = hit
            except TypeError:
                pass
        return hit


_MISS = object()
