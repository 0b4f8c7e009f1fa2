"""Property-based tests: whatever text an author (or a fuzzer) writes, the parser and the
checker answer with diagnostics, never with a Python exception; and a policy that loads
evaluates any schema-shaped record without an exception."""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.schema import bundled_schemas, record_schema
from policy_dsl.errors import Diagnostic, render_all, to_json
from policy_dsl.evaluate import Evaluator
from policy_dsl.load import load
from policy_dsl.parser import parse

HERE = Path(__file__).parent
GOOD = HERE / "good"
PACKS = {p.name: p.read_text(encoding="utf-8") for p in sorted(GOOD.glob("*.policy"))}
PARAMS = (GOOD / "params" / "000000.yaml").read_text(encoding="utf-8")
# The bundled packs, as real text to mutate (they change as the rules grow).
RULES = HERE.parents[1] / "rules"
REAL = {str(p.relative_to(RULES)): p.read_text(encoding="utf-8")
        for p in sorted(RULES.rglob("*.policy"))} if RULES.is_dir() else {}

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Pieces that make mutations plausible: keywords, punctuation (ASCII and full-width),
# literals, Chinese text, quotes and braces that open strings and placeholders.
SNIPPETS = [
    "when", "unless", "require", "else", "for each", "some", "all", "in", "not", "and", "or",
    "overrides", "covers", "except", "window same", "within 30 days", "severity high", "cite",
    "say", "remedy", "outcome review", "in force from 2024-01-01", "until 2023-01-01", "import",
    "define", "policy", "forbid", "permit", "boundary", "tolerance", "param.", "count(", "sum(",
    "is known", "is missing", "==", "=", "!=", "<=", "+", "-", "*", "/", "%", "(", ")", "[",
    "]", "{", "}", ",", ":", ".", '"', '"{', '}"', "{{", "}}", "\\", "#", "\n", "\t",
    "，", "：", "“", "”", "（", "）", "金额", "收受礼品", "60.005", "2024-02-30", "1 month",
    "N1", "P3", "B1", "X9", "meals", "m.total_cny", "window", "date", "true", "false",
    "0", "/ 0", "999999999999999999999999", "if", "then", "\x00", "\ufeff", "\u200b",
]


def _mutate(text: str, ops: list[tuple[int, int, int, int]]) -> str:
    """Apply (kind, position, length, snippet) edits: insert, delete, swap two words, or
    duplicate a span."""
    for kind, pos, length, snip in ops:
        if not text:
            text = SNIPPETS[snip % len(SNIPPETS)]
            continue
        i = pos % len(text)
        j = min(len(text), i + length)
        if kind == 0:
            text = text[:i] + SNIPPETS[snip % len(SNIPPETS)] + text[i:]
        elif kind == 1:
            text = text[:i] + text[j:]
        elif kind == 2:
            words = text.split(" ")
            a, b = pos % len(words), snip % len(words)
            words[a], words[b] = words[b], words[a]
            text = " ".join(words)
        else:
            text = text[:j] + text[i:j] + text[j:]
    return text


OPS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.integers(0, 40),
                         st.integers(0, 10_000)), min_size=1, max_size=6)


def _check_diagnostics(diags: list[Diagnostic], sources: dict[str, str]) -> None:
    for d in diags:
        assert isinstance(d, Diagnostic) and d.code and d.message
        assert d.span.line >= 1 and d.span.column >= 1
    render_all(diags, sources)
    to_json(diags)


@SETTINGS
@given(st.text(max_size=300))
def test_random_text_gives_diagnostics_not_exceptions(text: str) -> None:
    _, diags = parse(text, "t.policy")
    _check_diagnostics(diags, {"t.policy": text})


@SETTINGS
@given(st.sampled_from(sorted(PACKS)), OPS)
def test_mutated_packs_parse_without_exceptions(name: str, ops) -> None:
    text = _mutate(PACKS[name], ops)
    pf, diags = parse(text, name)
    _check_diagnostics(diags, {name: text})
    assert pf is not None or any(d.is_error for d in diags)


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(sorted(REAL) or ["-"]), OPS)
def test_mutated_bundled_packs_load_without_exceptions(name: str, ops) -> None:
    if not REAL:
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for rel, text in REAL.items():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_mutate(text, ops) if rel == name else text, encoding="utf-8",
                              errors="surrogatepass")
        (folder / "params").mkdir()
        for p in sorted((RULES / "params").glob("*.yaml")):
            (folder / "params" / p.name).write_bytes(p.read_bytes())
        result = load([folder], bundled_schemas())
        _check_diagnostics(result.diagnostics, result.sources)


RECORDS = [
    {"id": "a", "stage": "completed", "jurisdiction": "150302", "date": dt.date(2024, 6, 1),
     "official": {"id": "O-1"}},
    {"id": "b", "stage": "completed", "jurisdiction": "150300", "date": dt.date(2024, 1, 31),
     "official": {"id": "O-1", "rank": "division"},
     "enterprise": {"uscc": "91150300MA0N000000", "pending_matters": [{"status": "pending"}],
                    "relatives": []},
     "meals": [{"reason": "missed_meal_due_to_work", "payer": "enterprise",
                "total_cny": Decimal(300), "diners": 4, "alcohol": "ordinary"}, {}],
     "gifts": [{"direction": "received", "form": "cash", "value_cny": Decimal("200.00"),
                "received_on": dt.date(2024, 1, 31)}],
     "interventions": [], "tolerance": {"prefiling_id": "x"}},
]


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(sorted(PACKS)), OPS)
def test_mutated_packs_load_and_evaluate_without_exceptions(name: str, ops) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "params").mkdir()
        (folder / "params" / "000000.yaml").write_text(PARAMS, encoding="utf-8")
        for other, text in PACKS.items():
            out = _mutate(text, ops) if other == name else text
            (folder / other).write_text(out, encoding="utf-8", errors="surrogatepass")
        result = load([folder], bundled_schemas())
        _check_diagnostics(result.diagnostics, result.sources)
        if result.ok:
            ev = Evaluator(result.program, result.params)
            for r in RECORDS:
                res = ev.evaluate(r, lambda c, rec, p: [rec], trace=True)
                for f in res.findings:
                    ex = ev.explainer(r, f, res.params)
                    if f.cond is not None:
                        ex.missing(f.cond)
                    for text in (f.rule.say, f.rule.remedy):
                        if text is not None:
                            ex.render(text.zh, "zh")
                            ex.render(text.en, "en")


@SETTINGS
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_random_parameter_files_give_diagnostics(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "params").mkdir()
        (folder / "params" / "000000.yaml").write_text("jurisdiction: \"000000\"\n" + text,
                                                       encoding="utf-8")
        (folder / "a.policy").write_text('policy t.a "甲" / "A"\n', encoding="utf-8")
        result = load([folder], bundled_schemas())
        _check_diagnostics(result.diagnostics, result.sources)
