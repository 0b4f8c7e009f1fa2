"""Diagnostics: rendering (caret under wide characters), JSON form, the code registry and
its documentation, and the friendly syntax errors for the mistakes people make."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from checker.schema import record_schema
from policy_dsl import codes
from policy_dsl.errors import Diagnostic, Span, char_width, render, render_all, to_json
from policy_dsl.load import load
from policy_dsl.parser import parse

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "policy_dsl"
DOCS = ROOT / "docs" / "language.md"


# ---- rendering ------------------------------------------------------------------------
def test_caret_lines_up_under_chinese_text() -> None:
    src = 'forbid N1 "收受礼品" when 金额 > 1\n'
    d = Diagnostic("E007", "unexpected text `金额` outside quotes", Span("t.policy", 1, 23, 1, 25),
                   "Chinese text belongs inside \"quotes\"")
    assert render(d, {"t.policy": src}) == (
        "t.policy:1:23: error[E007]: unexpected text `金额` outside quotes\n"
        "  |\n"
        '1 | forbid N1 "收受礼品" when 金额 > 1\n'
        "  |                           ^^^^\n"
        '   = help: Chinese text belongs inside "quotes"'
    )


def test_caret_under_full_width_punctuation_is_two_columns() -> None:
    src = "when a， b"
    d = Diagnostic("E004", "full-width character `，` is not allowed here", Span("t", 1, 7, 1, 8))
    assert render(d, {"t": src}).splitlines()[-1] == "  |       ^^"


def test_caret_keeps_tabs() -> None:
    d = Diagnostic("E106", "unknown name `x`", Span("t", 1, 3, 1, 4))
    assert render(d, {"t": "\t\tx == 1"}).splitlines()[-1] == "  | \t\t^"


def test_span_over_several_lines_is_underlined_to_the_end_of_its_first_line() -> None:
    d = Diagnostic("E105", "`when` given twice", Span("t", 1, 3, 2, 5))
    assert render(d, {"t": "  when a\n  and b"}).splitlines()[-1] == "  |   ^^^^^^"


def test_without_source_only_the_head_hint_and_notes() -> None:
    d = Diagnostic("E101", "duplicate rule id N1", Span("t", 4, 8, 4, 10), "choose another id",
                   notes=("first defined at t:1",))
    assert render(d) == ("t:4:8: error[E101]: duplicate rule id N1\n"
                         "   = note: first defined at t:1\n"
                         "   = help: choose another id")


def test_char_width() -> None:
    assert [char_width(c) for c in "a收，（é\u0301"] == [1, 2, 2, 2, 1, 0]


def test_render_all_sorts_by_file_line_column() -> None:
    a = Diagnostic("E201", "b", Span("f", 2, 1, 2, 2))
    b = Diagnostic("E201", "a", Span("f", 1, 5, 1, 6))
    assert render_all([a, b]).split("\n\n") == ["f:1:5: error[E201]: a", "f:2:1: error[E201]: b"]


# ---- JSON form -------------------------------------------------------------------------
def test_json_form(tmp_path: Path) -> None:
    pol = tmp_path / "a.policy"
    pol.write_text('policy t.a "甲" / "A"\n'
                   'forbid N1 "礼金" / "Cash"\n'
                   '  severity critical\n'
                   '  cite "第1条"\n'
                   '  when some g in gifts: g.valu_cny > 1\n', encoding="utf-8")
    result = load([pol], record_schema())
    data = json.loads(to_json(result.diagnostics))
    assert data == [{
        "code": "E201",
        "message": "unknown field `valu_cny` in gifts[]",
        "span": {"file": str(pol), "line": 5, "column": 27, "end_line": 5, "end_column": 35},
        "hint": "did you mean `value_cny`?",
        "severity": "error",
        "notes": [],
    }]


def test_json_is_sorted_and_keeps_chinese_readable() -> None:
    d = [Diagnostic("W103", "规则没有英文标题", Span("b", 1, 1, 1, 2), severity="warning"),
         Diagnostic("E001", "x", Span("a", 1, 1, 1, 2))]
    text = to_json(d)
    assert "规则没有英文标题" in text
    assert [x["span"]["file"] for x in json.loads(text)] == ["a", "b"]


# ---- the registry -----------------------------------------------------------------------
def emitted_codes() -> set[str]:
    """Every code literal in the package source (the registry itself excepted)."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "codes.py" and path.parent == PACKAGE:
            continue
        found |= set(re.findall(r"[\"']([EWN]\d{3})[\"']", path.read_text(encoding="utf-8")))
    return found


def test_every_emitted_code_is_registered() -> None:
    assert sorted(emitted_codes() - set(codes.CODES)) == []


def test_every_registered_code_is_emitted() -> None:
    assert sorted(set(codes.CODES) - emitted_codes()) == []


def test_registry_entries_are_complete() -> None:
    for code, entry in codes.CODES.items():
        assert re.fullmatch(r"[EWN]\d{3}", code)
        assert entry.code == code
        assert entry.severity == {"E": "error", "W": "warning", "N": "note"}[code[0]]
        assert entry.title and entry.explanation.endswith(".")
    assert codes.title("E201") == "unknown field"
    assert codes.lookup("E999") is None


def test_every_code_is_documented() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    missing = [c for c in codes.CODES if not re.search(rf"^#+ .*\b{c}\b", docs, re.MULTILINE)]
    assert missing == []


# ---- friendly syntax errors ------------------------------------------------------------
HEAD = 'policy t.a "甲" / "A"\nforbid N1 "礼金" / "Cash"\n  severity high\n  cite "第1条"\n'


@pytest.mark.parametrize("text, code, message, line, column, hint", [
    # A missing `when`.
    ("  gifts == []\n", "E005", "expected a clause keyword, found `gifts`", 5, 3,
     "did you forget `when` before the condition?"),
    # An unclosed string.
    ('  say "收受礼金\n', "E002", "unclosed string", 5, 7,
     'close the string with `"` on the same line'),
    # `=` for `==`.
    ("  when personal_favour_requested = true\n", "E003", "`=` is not a comparison", 5, 34,
     "write `==` to compare values"),
    # Full-width comma, colon, quotes and parentheses.
    ("  when some g in gifts: g.form in {cash，goods}\n", "E004",
     "full-width character `，` is not allowed here", 5, 40,
     ("replace `，` with the ASCII `,` (switch the input method to half-width); "
      'Chinese text belongs inside "quotes"')),
    ("  when some g in gifts：g.form == cash\n", "E004",
     "full-width character `：` is not allowed here", 5, 23,
     ("replace `：` with the ASCII `:` (switch the input method to half-width); "
      'Chinese text belongs inside "quotes"')),
    ("  say “收受礼金”\n", "E004", "full-width character `“` is not allowed here", 5, 7,
     ('replace `“` with the ASCII `"` (switch the input method to half-width); '
      'Chinese text belongs inside "quotes"')),
    ("  when （personal_favour_requested）\n", "E004",
     "full-width character `（` is not allowed here", 5, 8,
     ("replace `（` with the ASCII `(` (switch the input method to half-width); "
      'Chinese text belongs inside "quotes"')),
    ("  when personal_favour_requested == true）\n", "E004",
     "full-width character `）` is not allowed here", 5, 41,
     ("replace `）` with the ASCII `)` (switch the input method to half-width); "
      'Chinese text belongs inside "quotes"')),
    # Other named mistakes.
    ("  when a && b\n", "E007", "unexpected character `&`", 5, 10, "write `and` to combine conditions"),
    ("  when a || b\n", "E007", "unexpected character `|`", 5, 10, "write `or` to combine conditions"),
    ("  when x == 'a'\n", "E007", "unexpected character `'`", 5, 13,
     'strings are written in double quotes: "text"'),
    ("  when x is not known\n", "E001", "`is` is followed by `known` or `missing`, found `not`", 5, 13,
     "write `x is missing` (or `x is known`); compare values with `==`"),
    ("  outcome compliant\n", "E001", "`compliant` is not an outcome a rule can yield", 5, 11,
     "write `outcome review` (or `outcome violation`, the default)"),
    ("  for each m meals\n", "E001", "`for each` is written `for each x in list`, found `meals`", 5, 14,
     "write e.g. `for each m in meals`"),
    ("  when x ==\n", "E006", "unexpected end of file", 5, 12,
     "the last rule or expression is incomplete; expected an expression"),
    ("  say \"{a b}\"\n", "E011", "invalid placeholder `{a b}`: unexpected `b` in the expression",
     5, 11, None),
])
def test_friendly_syntax_error(text, code, message, line, column, hint) -> None:
    _, diags = parse(HEAD + text, "t.policy")
    assert len(diags) == 1
    d = diags[0]
    assert (d.code, d.message, d.span.line, d.span.column) == (code, message, line, column)
    if hint is not None:
        assert d.hint == hint


def test_syntax_error_inside_a_placeholder_points_into_the_string() -> None:
    _, diags = parse(HEAD + '  say "现金 {g.value_cny +} 元" / "x"\n', "t.policy")
    d = diags[0]
    assert (d.code, d.span.line, d.span.column) == ("E011", 5, 25)  # the `}` it reached
    assert d.message == "invalid placeholder `{g.value_cny +}`: the expression ends too early"


def test_placeholder_columns_count_escapes() -> None:
    # `\"` takes two characters in the file and one in the message.
    _, diags = parse(HEAD + '  say "\\"x\\" {a b}" / "y"\n', "t.policy")
    assert (diags[0].span.line, diags[0].span.column) == (5, 17)


def test_parser_reports_every_bad_date_and_keeps_going() -> None:
    _, diags = parse(HEAD + "  in force from 2023-02-29\n  when date > 2024-02-30\n", "t.policy")
    assert [(d.code, d.message) for d in diags] == [
        ("E008", "invalid date `2023-02-29`"), ("E008", "invalid date `2024-02-30`")]


def test_quantifier_may_end_an_and_chain_without_parentheses() -> None:
    pf, diags = parse(HEAD + "  when personal_favour_requested == true and some g in gifts: "
                             "g.form == cash\n", "t.policy")
    assert diags == [] and pf is not None
    assert type(pf.rules[0].when).__name__ == "BoolOp"


def test_comments_are_kept_for_the_formatter() -> None:
    pf, _ = parse('# head\npolicy t.a "甲" / "A"  # tail\n', "t.policy")
    assert [(c.line, c.column, c.text) for c in pf.comments] == [(1, 1, "# head"), (2, 23, "# tail")]


# ---- deep nesting is a diagnostic, and anything below the limit works ---------------------
@pytest.mark.parametrize("body", [
    "(" * 3000 + "true" + ")" * 3000,
    "not " * 3000 + "true",
    " + ".join(["1"] * 3000) + " > 1",
    "if true then 1 else " * 3000 + "2 > 1",
    "-" * 3000 + "1 > 1",
    "some x in meals: " * 3000 + "true",
])
def test_deep_nesting_is_reported_not_a_crash(body: str, tmp_path: Path) -> None:
    pol = tmp_path / "a.policy"
    pol.write_text('policy t.a "甲" / "A"\nforbid N1 "礼金" / "Cash"\n  severity low\n  cite "c"\n'
                   f"  when {body}\n  say \"{{{body}}}\" / \"x\"\n", encoding="utf-8")
    result = load([pol], record_schema())
    assert not result.ok
    assert {d.code for d in result.errors} == {"E012"}


def test_definition_chains_are_bounded(tmp_path: Path) -> None:
    defs = "\n".join(f"define d{i} = d{i + 1} + 1" for i in range(40)) + "\ndefine d40 = 1\n"
    pol = tmp_path / "a.policy"
    pol.write_text('policy t.a "甲" / "A"\n' + defs + 'forbid N1 "t" / "t"\n  severity low\n'
                   '  cite "c"\n  when d0 > 1\n', encoding="utf-8")
    result = load([pol], record_schema())
    assert [d.code for d in result.errors][:1] == ["E012"]
    assert result.errors[0].notes == ("while expanding definitions " + " → ".join(
        f"`d{i}`" for i in range(32)),)


def test_expressions_just_below_the_limit_evaluate(tmp_path: Path) -> None:
    import datetime as dt

    from policy_dsl.evaluate import Evaluator

    sum_ = " + ".join(["participants.officials"] * 90)
    pol = tmp_path / "a.policy"
    pol.write_text('policy t.a "甲" / "A"\nforbid N1 "t" / "t"\n  severity low\n  cite "c"\n'
                   f"  when {'(' * 90}{sum_} > 100{')' * 90}\n  say \"{{{sum_}}}\" / \"x\"\n",
                   encoding="utf-8")
    result = load([pol], record_schema())
    assert result.ok, render_all(result.diagnostics, result.sources)
    ev = Evaluator(result.program, result.params)
    r = {"id": "r", "stage": "completed", "jurisdiction": "150302", "date": dt.date(2024, 1, 1),
         "official": {"id": "O"}, "participants": {"officials": 2}}
    res = ev.evaluate(r)
    assert res.outcome == "violation"
    tracer = ev.explainer(r, res.findings[0], res.params)
    assert tracer.render(res.findings[0].rule.say.zh, "zh") == "180"
