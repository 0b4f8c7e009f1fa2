"""The window index: projected records by (window rule, key values), for cross-record rules.

Cross-record (`window`) rules need every record of the batch (and the history) before any
record can be decided. The index keeps *projections*: each valid record reduced to the fields
the window rules read (plus `id`, `date` and `jurisdiction`), filed under each window rule's
key values. A caller that can read its input twice (`checker/run/`) fills the index in a first
pass and evaluates in a second, so memory grows only with the projections.
"""

from __future__ import annotations

import datetime as dt
import struct
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from hashlib import blake2b
from typing import Any

from checker.engine import tagged
from policy_dsl import ir
from policy_dsl.evaluate import CompiledRule

ALWAYS_KEPT = ("id", "date", "jurisdiction")  # naming, placing and parameters of window records


def window_paths(rules: Sequence[CompiledRule]) -> frozenset[str] | None:
    """Schema paths (`meals[].payer`) that the window rules read *from window records*, plus
    `id`, `date` and `jurisdiction`; None when a rule uses a window record whole, or `window`
    other than as the list of a comprehension (then whole records are kept)."""
    paths: set[str] = set(ALWAYS_KEPT)
    for c in rules:
        rule = c.ir
        derived: frozenset[str] = frozenset()  # variables bound to window records (or parts)
        for w in rule.witnesses:  # `some r in window: …` binds `r` for the messages too
            if _from_window(w.coll, derived):
                derived = derived | {w.var}
        roots = frozenset(w.var for w in rule.witnesses if isinstance(w.coll, ir.WindowRef))
        for e in ir.rule_exprs(rule):
            if not _collect(e, derived, roots, paths):
                return None
    return frozenset(paths)


def _root(e: ir.Expr) -> ir.Expr:
    """The variable (or record field) a chain of field accesses and indexes starts from."""
    while isinstance(e, (ir.Field, ir.IndexExpr)) and e.base is not None:
        e = e.base  # type: ignore[assignment]
    return e


def _from_window(coll: ir.Expr, derived: frozenset[str]) -> bool:
    if isinstance(coll, ir.WindowRef):
        return True
    root = _root(coll)
    return isinstance(root, ir.Var) and root.name in derived


def _collect(e: ir.Expr, derived: frozenset[str], roots: frozenset[str], paths: set[str]) -> bool:
    """Add the paths read through window-derived variables; False if a window record escapes."""
    if isinstance(e, (ir.Quant, ir.Agg)):
        if not _collect(e.coll, derived, roots, paths) and not isinstance(e.coll, ir.WindowRef):
            return False
        inner, inner_roots = derived - {e.var}, roots - {e.var}
        if _from_window(e.coll, derived):
            inner = inner | {e.var}
            if isinstance(e.coll, ir.WindowRef):
                inner_roots = inner_roots | {e.var}
        parts = (e.body,) if isinstance(e, ir.Quant) else (e.where, e.value)
        return all(_collect(x, inner, inner_roots, paths) for x in parts if x is not None)
    if isinstance(e, ir.WindowRef):
        return False  # `window` anywhere but as a comprehension's list
    if isinstance(e, ir.Var):
        return e.name not in roots  # a window record used whole
    if isinstance(e, ir.Field):
        root = _root(e)
        if isinstance(root, ir.Var) and root.name in derived:
            node: ir.Expr | None = e
            while isinstance(node, (ir.Field, ir.IndexExpr)):
                if isinstance(node, ir.Field):
                    paths.add(node.path)
                elif not _collect(node.index, derived, roots, paths):
                    return False
                node = node.base
            return True
    return all(_collect(k, derived, roots, paths) for k in ir.children(e))


def _path_tree(paths: Iterable[str]) -> dict:
    """`{"meals", "meals[].payer"}` → `{"meals": {"payer": {}}}`. A leaf (empty dict) keeps the
    whole value; an inner node keeps only its named branches (list elements alike). Reading
    `r.meals[..].payer` names `meals` too, so a list keeps its length when pruned."""
    tree: dict = {}
    for p in sorted(paths):
        node = tree
        for part in p.replace("[]", "").split("."):
            node = node.setdefault(part, {})
    return tree


def project(value: Any, tree: dict) -> Any:
    """Keep only the branches of `tree` (lists are projected element-wise)."""
    if not tree:
        return value
    return projector(tree)(value)


def projector(tree: dict) -> Callable[[Any], Any]:
    """`project(…, tree)` as one function (the tree walked once, not once per record)."""
    return _compile_projector(tree) or _identity


def _identity(value: Any) -> Any:
    return value


def _compile_projector(tree: dict) -> Callable[[Any], Any] | None:
    """None for a leaf (the whole value is kept)."""
    if not tree:
        return None
    branches = tuple((k, _compile_projector(sub)) for k, sub in tree.items())

    def proj(value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, sub in branches:
                if k in value:
                    out[k] = value[k] if sub is None else sub(value[k])
            return out
        if isinstance(value, list):
            return list(map(proj, value))
        return value
    return proj


def _slot_hash(slot: Sequence) -> tuple[int, int]:
    """128 bits naming a (rule id, *key values) slot; equal keys, equal hashes (a list and a
    tuple of the same values hash alike)."""
    return _two_u64(blake2b(tagged.dumps(slot), digest_size=16).digest())


_two_u64 = struct.Struct(">QQ").unpack
_NO_BINDINGS: dict = {}  # read-only: key closures never change their bindings
_SEQ_BIAS = 1 << 62  # history positions are negative: biased to sort as unsigned bits
DECODED_CACHE = 4096  # decoded projections kept per index (windows of nearby records overlap)
PENDING, VALID, INVALID = 0, 1, 2  # states of a tentative filing


class WindowIndex:
    """Projected records by (window rule, key values), sorted by date, for cross-record rules.

    Compact and fork-friendly: entries live in a few flat arrays (slot hash, day, position,
    offset, length) and the projections, encoded, in one byte buffer, so a million records
    cost about 100 bytes each and forked workers reading the index do not copy it page by
    page (no per-entry objects whose reference counts a lookup would touch). A lookup finds
    its range with `bisect` on the sorted arrays and decodes the projections in it; the last
    few thousand decoded projections are kept (consecutive records of one official and firm
    share most of their windows).

    Each record carries its position in the batch (`seq`; history records come first with
    negative positions) so that the record being decided is in its own window exactly once
    and windows list records in (date, position) order whoever evaluates them."""

    def __init__(self, rules: Sequence[CompiledRule], params_for, paths: frozenset[str] | None = None):
        self.rules = list(rules)
        self.params_for = params_for
        # window keys rarely read parameters: then filing need not resolve them per record
        self._keyed = tuple((c.ir.id, c.keys, c.ir.record_kind) for c in self.rules)
        self._key_params = bool(self.rules) and any(isinstance(n, ir.ParamRef) for c in self.rules if c.ir.window
                               for k in c.ir.window.keys for n in ir.walk(k))
        self.tree = _path_tree(paths) if paths is not None else None
        self.project = projector(self.tree) if self.tree is not None else _identity  # record → projection
        # The date is kept as a day number beside each entry, so a projection that starts with
        # it (a pruned one, keys in sorted order) is stored without it and gets it back.
        self._dateless = None
        if self.tree is not None and next(iter(self.tree)) == "date" and not self.tree["date"]:
            self._dateless = projector({k: t for k, t in self.tree.items() if k != "date"})
        self._hi, self._lo = array("Q"), array("Q")
        self._day, self._seq = array("q"), array("q")
        self._off, self._len = array("Q"), array("Q")
        self._rule = array("H")  # the window rule of each entry (its position in `rules`; with
        # several rules only)
        self._rule_no = {c.ir.id: i for i, c in enumerate(self.rules)}
        # after freeze: per rule, batch position - _base → its record's entry (-1: none), so a
        # record of the batch finds its slot without computing its keys and hash again
        self._own: list[array] = []
        self._base = 0
        self._blob = bytearray()
        self._sorted = True
        self._decoded: dict[int, Any] = {}  # offset → decoded projection (bounded)
        self.size = 0
        # Tentative filings (a first pass that decoded only the projected fields): their
        # positions (ascending), where to read them again, and their state, settled by the
        # second pass or, for a window that meets one first, by `resolver(where)`.
        self._tent_seq = array("q")
        self._tent_file = array("I")  # index into _tent_paths
        self._tent_off = array("Q")  # byte offset of the line
        self._tent_paths: list[str] = []
        self._tent_state = bytearray()  # PENDING, VALID or INVALID
        self.resolver: Callable[[str, int], bool] | None = None

    def slots(self, record: dict) -> list[tuple]:
        """Where a record is filed: `(rule id, *key values)` of each window rule whose keys
        are all known for it."""
        out = []
        p = self.params_for(record) if self._key_params else _NO_BINDINGS
        kind = record.get("record_kind") or ir.DEFAULT_KIND
        for rule_id, keys, rule_kind in self._keyed:
            if rule_kind != kind:
                continue  # a window holds records of its rule's kind only
            slot = [rule_id]
            for k in keys:
                v = k(record, p, _NO_BINDINGS)
                if v is None:
                    break
                slot.append(v)
            else:
                out.append(tuple(slot))
        return out

    def add(self, record: dict, seq: int, where: tuple[str, int] | None = None) -> None:
        """File a valid record (its projection) at its batch position `seq` (tentatively with
        `where`: see `file`)."""
        slots = self.slots(record)
        if slots:
            self.file(slots, seq, record, where)

    def scan_fields(self) -> dict | None:
        """The fields a filing reads (`{"official": {"id": {}}, …}`): the projection's and the
        window keys' record fields; None when whole records are kept."""
        if self.tree is None:
            return None
        tree = {k: dict(v) for k, v in self.tree.items()}
        tree.setdefault("record_kind", {})  # a window holds records of its rule's kind only
        for c in self.rules:
            assert c.ir.window is not None
            for key in c.ir.window.keys:
                for n in ir.walk(key):
                    if isinstance(n, ir.Field) and not isinstance(_root(n), ir.Var):
                        node = tree
                        for part in n.path.replace("[]", "").split("."):
                            node = node.setdefault(part, {})
        return tree

    def file(self, slots: list[tuple], seq: int, record: dict,
             where: tuple[str, int] | None = None) -> None:
        """File a record, or its projection made elsewhere, under `slots`. With `where` (the
        file and byte offset of its JSONL line) the filing is tentative: the record is in a
        window only once it is known to be valid (`settle`, or `resolver(file, offset)`).
        Positions are filed in ascending order."""
        self.file_encoded(seq, self.encode(slots, record), where)

    def encode(self, slots: list[tuple], record: dict) -> tuple[bytes, int, tuple]:
        """What filing a record stores (its encoded projection, its day, the hashes and rule
        numbers of its slots), worked out without touching the index (a worker can)."""
        date = record["date"]
        if self._dateless is not None and date.__class__ is dt.date:
            data = tagged.dumps(self._dateless(record))
        else:
            data = tagged.dumps(self.project(record))
        rule_of = self._rule_no
        return data, date.toordinal(), tuple(
            (*_two_u64(blake2b(tagged.dumps(slot), digest_size=16).digest()),
             rule_of[slot[0]]) for slot in slots)

    def file_encoded(self, seq: int, encoded: tuple[bytes, int, tuple],
                     where: tuple[str, int] | None = None) -> None:
        """`file`, given what `encode` made."""
        if where is not None:
            path, offset = where
            if not self._tent_paths or self._tent_paths[-1] != path:
                self._tent_paths.append(path)
            self._tent_seq.append(seq)
            self._tent_file.append(len(self._tent_paths) - 1)
            self._tent_off.append(offset)
            self._tent_state.append(PENDING)
        data, day, hashes = encoded
        off = len(self._blob)
        self._blob += data
        size = len(data)
        several = len(self.rules) > 1  # one rule: no need to say which
        for hi, lo, rule in hashes:
            self._hi.append(hi)
            self._lo.append(lo)
            self._day.append(day)
            self._seq.append(seq)
            self._off.append(off)
            self._len.append(size)
            if several:
                self._rule.append(rule)
        self._sorted = False
        if self._decoded:
            self._decoded.clear()
        self.size += 1

    def freeze(self) -> None:
        """Sort the entries by (slot, day, position); done once, before the lookups."""
        if self._sorted:
            return
        # one int per entry as the sort key (a tuple of four would cost twice the memory)
        packed = [((hi << 64 | lo) << 84) | day << 64 | (seq + _SEQ_BIAS)
                  for hi, lo, day, seq in zip(self._hi, self._lo, self._day, self._seq)]
        order = sorted(range(len(packed)), key=packed.__getitem__)
        del packed
        for name in ("_hi", "_lo", "_day", "_seq", "_off", "_len", "_rule")[:None if self._rule else 6]:
            old = getattr(self, name)
            setattr(self, name, array(old.typecode, map(old.__getitem__, order)))
        self._own = self._own_entries()
        self._sorted = True

    def _own_entries(self) -> list[array]:
        """Per rule, batch position - `_base` → the entry filed there (-1: none); empty when
        a position was filed twice for a rule (then lookups compute keys and hashes)."""
        if not self._seq:
            return []
        base = self._base = min(self._seq)
        span = max(self._seq) - base + 1
        own = [array("q", [-1]) * span for _ in self.rules]
        if len(own) == 1:
            one = own[0]
            for j, seq in enumerate(self._seq):
                one[seq - base] = j
        else:
            for j, (rule, seq) in enumerate(zip(self._rule, self._seq)):
                own[rule][seq - base] = j
        if sum(span - o.count(-1) for o in own) != len(self._seq):
            return []  # a position filed twice for one rule
        return own

    def _range(self, hi: int, lo: int, first_day: int, last_day: int) -> tuple[int, int]:
        """The entries of slot (hi, lo) dated first_day … last_day: [start, end)."""
        H = self._hi
        a = bisect_left(H, hi)
        if a == len(H) or H[a] != hi:
            return a, a
        b = bisect_right(H, hi, a)
        L = self._lo
        if L[a] != lo or L[b - 1] != lo:  # another slot with the same upper 64 bits
            a = bisect_left(L, lo, a, b)
            b = bisect_right(L, lo, a, b)
        D = self._day
        a = bisect_left(D, first_day, a, b)
        return a, bisect_right(D, last_day, a, b)

    @property
    def tentative(self) -> bool:
        """Whether some filings are tentative (the second pass should `settle` them)."""
        return bool(self._tent_seq)

    def settle(self, seq: int, valid: bool) -> None:
        """The record at `seq` turned out valid (or not); no-op if it was not filed tentatively."""
        k = bisect_left(self._tent_seq, seq)
        if k < len(self._tent_seq) and self._tent_seq[k] == seq and self._tent_state[k] == PENDING:
            self._tent_state[k] = VALID if valid else INVALID

    def _valid(self, seq: int) -> bool:
        """Whether the record filed at `seq` counts (tentative ones once known valid)."""
        k = bisect_left(self._tent_seq, seq)
        if k == len(self._tent_seq) or self._tent_seq[k] != seq:
            return True
        state = self._tent_state[k]
        if state == PENDING:
            if self.resolver is None:
                raise RuntimeError("a tentative window record with no way to check it")
            where = self._tent_paths[self._tent_file[k]], self._tent_off[k]
            state = self._tent_state[k] = VALID if self.resolver(*where) else INVALID
        return state == VALID

    def lookup(self, c: CompiledRule, record: dict, params: dict, seq: int | None = None
               ) -> list[dict] | None:
        """The window of `c` for `record`: the filed records sharing its keys, dated within the
        window, in (date, position) order, with `record` itself (whole) in its place, or last
        when it was not filed; None when a key is unknown. `seq`: the position `record` was
        filed at, if it was (then its own entry names the slot)."""
        if not self._sorted:
            self.freeze()
        j = -1
        if seq is not None and self._own:
            own = self._own[self._rule_no[c.ir.id]]
            k = seq - self._base
            if 0 <= k < len(own):
                j = own[k]
        if j >= 0:  # filed at `seq`: its entry names its slot
            hi, lo = self._hi[j], self._lo[j]
        else:
            slot = [c.ir.id]
            for key in c.keys:
                v = key(record, params, _NO_BINDINGS)
                if v is None:
                    return None
                slot.append(v)
            hi, lo = _slot_hash(slot)
        day = record["date"].toordinal()
        assert c.ir.window is not None  # only window rules are indexed
        if c.width is None:
            first = day - c.ir.window.days
        else:
            start = c.first_day(record, params)
            if start is None:
                return None  # its width is unknown
            first = start.toordinal()
        i, end = self._range(hi, lo, first, day)
        if i == end:
            return [record]  # a planned record is always in its own window
        found, placed = [], False
        seqs, offs, cache = self._seq, self._off, self._decoded
        tentative = bool(self._tent_seq)
        for j in range(i, end):
            if seq is not None and seqs[j] == seq:
                found.append(record)  # the record itself, whole
                placed = True
                continue
            if tentative and not self._valid(seqs[j]):
                continue
            off = offs[j]
            proj = cache.get(off)
            if proj is None:
                proj = tagged.loads(self._blob[off:off + self._len[j]])
                if "date" not in proj:  # stored without it (see __init__)
                    proj = {"date": dt.date.fromordinal(self._day[j]), **proj}
                if len(cache) >= DECODED_CACHE:
                    del cache[next(iter(cache))]  # the oldest
                cache[off] = proj
            found.append(proj)
        if not placed:
            found.append(record)  # a planned record is always in its own window
        return found
