"""`qinqing fmt`: one canonical layout, idempotent, comments kept, meaning never changed.

The meaning test formats every pack folder we have (the bundled rules, the language's good
test policies, the checker's and analysis's test packs) into a temporary copy and compares
the compiled IR of the copy with the original's, spans and file names aside.
"""

from __future__ import annotations

import collections
import dataclasses
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from checker.cli import _register_all, app
from checker.schema import bundled_schemas
from policy_dsl.errors import Span
from policy_dsl.format import FormatError, format_source, width
from policy_dsl.load import load
from policy_dsl.parser import parse

ROOT = Path(__file__).resolve().parents[2]
PACK_FOLDERS = [ROOT / "rules", ROOT / "tests" / "policy_dsl" / "good",
                ROOT / "tests" / "checker" / "data" / "ruletests" / "pack",
                ROOT / "tests" / "checker" / "data" / "minipolicy",
                *sorted((ROOT / "tests" / "policy_dsl" / "analysis" / "packs").glob("*"))]
PACK_FOLDERS = [p for p in PACK_FOLDERS if p.is_dir() and any(p.rglob("*.policy"))]
POLICY_FILES = sorted(f for d in PACK_FOLDERS for f in d.rglob("*.policy"))


def qq(*args: str | Path, input: str | None = None):
    _register_all()
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def shape(x):
    """An IR value without source positions or file names, for comparison."""
    if isinstance(x, Span):
        return None
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x).__name__,) + tuple(shape(getattr(x, f.name)) for f in dataclasses.fields(x)
                                           if f.compare and f.name != "file")
    if isinstance(x, (list, tuple)):
        return tuple(shape(i) for i in x)
    if isinstance(x, dict):
        return tuple(sorted((k, shape(v)) for k, v in x.items()))
    return x


# ---- meaning, idempotence, comments over real packs ----------------------------------------------
@pytest.mark.parametrize("folder", PACK_FOLDERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_formatting_never_changes_meaning(folder: Path, tmp_path: Path) -> None:
    before = load([folder], bundled_schemas())
    assert before.program is not None, "the original must compile"
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    for f in copy.rglob("*.policy"):
        f.write_text(format_source(f.read_text(encoding="utf-8"), str(f)), encoding="utf-8")
    after = load([copy], bundled_schemas())
    assert [d.code for d in after.errors] == [d.code for d in before.errors]
    assert shape(after.program.packs) == shape(before.program.packs)


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_idempotent_and_comments_kept(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    once = format_source(text, str(path))
    assert format_source(once, str(path)) == once
    before = collections.Counter(c.text.rstrip() for c in parse(text, "a")[0].comments)
    after = collections.Counter(c.text.rstrip() for c in parse(once, "b")[0].comments)
    assert after == before
    assert once.endswith("\n") and not once.endswith("\n\n")


# ---- the layout ---------------------------------------------------------------------------------
MESSY = """\
# header comment

policy test.x "测试" / "Test"   # trailing head
  # about the source
  source "src"
  version "1"  # v
  applies to all
  in force from 2020-01-01
import common.defs
define a(m) = m.x   # ca
define   b = 3


# section

forbid N1 "t"/"T" # th
  say "s"/"S"
  when a and # after a
     # before b
     b or c  # end
  severity high
  cite "c"
  require x else B1 as high
  unless z   # after z
  # before the next rule
permit P1 "p"
  severity low
  cite "c"
  when aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa and bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb and ccc
  require x.total_cny/x.diners<=param.cap or x.paid==true or x.reason in {missed_meal_due_to_work,remote_location} else B1
# end comment
"""

CANONICAL = """\
# header comment

policy test.x "测试" / "Test"  # trailing head
  version "1"  # v
  # about the source
  source "src"
  in force from 2020-01-01
  applies to all

import common.defs
define a(m) = m.x  # ca
define b = 3

# section

forbid N1 "t" / "T"  # th
  severity high
  cite "c"
  when (a and b)  # after a
       # before b
       or c  # end
  unless z  # after z
  require x else B1 as high
  say "s" / "S"

# before the next rule
permit P1 "p"
  severity low
  cite "c"
  when aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
       and bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
       and ccc
  require x.total_cny / x.diners <= param.cap
          or x.paid == true
          or x.reason in {missed_meal_due_to_work, remote_location}
    else B1
# end comment
"""


def test_canonical_layout() -> None:
    assert format_source(MESSY) == CANONICAL
    assert format_source(CANONICAL) == CANONICAL


def test_clause_order_and_spacing() -> None:
    src = ('boundary B9 "待办" / "Pending"\n  outcome review  basis inferred\n  cite "c" severity medium\n'
           '  when   x   in{a,b} and not(y>=2)\n  remedy "r" / "R"\n  say "s"\n')
    assert format_source(src) == (
        'boundary B9 "待办" / "Pending"\n'
        "  severity medium\n"
        '  cite "c"\n'
        "  basis inferred\n"
        "  outcome review\n"
        "  when x in {a, b} and not y >= 2\n"
        '  say "s"\n'
        '  remedy "r" / "R"\n')


def test_and_inside_or_keeps_parentheses_and_nested_chains_break_inside_them() -> None:
    src = ("define alcohol_ok(m) = m.alcohol == none or (m.alcohol == ordinary and param.alcohol_allowed "
           "== true and investment_context_of_a_long_name(m))\n")
    assert format_source(src) == (
        "define alcohol_ok(m) = m.alcohol == none\n"
        "                       or (m.alcohol == ordinary\n"
        "                           and param.alcohol_allowed == true\n"
        "                           and investment_context_of_a_long_name(m))\n")


def test_long_forms_break_in_their_places() -> None:
    src = ("define own = some p in enterprise.pending_matters: matter_active(p) and p.official_role in "
           "{decision_maker, evaluator, handler, someone_else_entirely}\n"
           "define venue_ok = venue.type not in {high_end_restaurant, private_club, entertainment_venue, "
           "golf_yacht_fitness_club, another}\n"
           "define per_person(m) = if m.itemised_per_person_cny is known then m.itemised_per_person_cny "
           "else m.total_cny / m.diners\n"
           "define s = sum(i in range(0, 17): index_of(uscc_chars, char_at(s, i)) * uscc_weights[i] * "
           "some_other_factor) > 3\n")
    assert format_source(src) == (
        "define own = some p in enterprise.pending_matters:\n"
        "               matter_active(p)\n"
        "               and p.official_role in {decision_maker, evaluator, handler, someone_else_entirely}\n"
        "define venue_ok = venue.type not in {high_end_restaurant, private_club, entertainment_venue,\n"
        "                                     golf_yacht_fitness_club, another}\n"
        "define per_person(m) = if m.itemised_per_person_cny is known\n"
        "                       then m.itemised_per_person_cny\n"
        "                       else m.total_cny / m.diners\n"
        "define s = sum(i in range(0, 17):\n"
        "               index_of(uscc_chars, char_at(s, i)) * uscc_weights[i] * some_other_factor) > 3\n")


def test_else_if_chains_stay_flat_and_nested_conditionals_keep_parentheses() -> None:
    src = ('define issue(g) = if g.direction == given then (if g.form != souvenir then "only souvenirs" else '
           '"not approved") else if g.giver_is_management_service_object == true then "may not be kept" '
           'else "register it"\n')
    assert format_source(src) == (
        "define issue(g) = if g.direction == given\n"
        '                  then (if g.form != souvenir then "only souvenirs" else "not approved")\n'
        "                  else if g.giver_is_management_service_object == true\n"
        '                  then "may not be kept"\n'
        '                  else "register it"\n')


def test_long_bilingual_text_breaks_before_the_english() -> None:
    zh = "人均" * 30
    src = f'forbid N1 "t" / "T"\n  say "{zh}" / "English text"\n'
    assert format_source(src) == f'forbid N1 "t" / "T"\n  say "{zh}"\n    / "English text"\n'
    assert width("人均ab") == 6


def test_strings_escapes_numbers_dates_durations_are_kept() -> None:
    src = ('policy a.b "引号\\"内\\"" / "back\\\\slash"\n  in force from 2013-12-01 until 2025-05-20\n'
           '  applies to "150300", "450107"\n'
           'forbid N1 "t"\n  severity low\n  cite "c"\n  for each g in gifts\n'
           '  window same official.id within 30 days\n'
           '  when g.value_cny >= 60.00 and date <= 2025-05-20 + 1 month and count(x in gifts) > 2\n'
           '  overrides P1,P9\n')
    out = format_source(src)
    assert 'policy a.b "引号\\"内\\"" / "back\\\\slash"\n' in out
    assert "  in force from 2013-12-01 until 2025-05-20\n" in out
    assert '  applies to "150300", "450107"\n' in out
    assert "g.value_cny >= 60.00 and date <= 2025-05-20 + 1 month and count(x in gifts) > 2" in out
    assert "  overrides P1, P9\n" in out


def test_tolerance_covers_forms() -> None:
    src = 'tolerance B15 "t"\n  cite "c"\n  when x\n  covers all except N1,N2\ntolerance B16 "u"\n  covers B8 , N9\n'
    out = format_source(src)
    assert "  covers all except N1, N2\n" in out and "  covers B8, N9\n" in out


def test_syntax_errors_and_duplicate_clauses_are_refused() -> None:
    with pytest.raises(FormatError) as exc:
        format_source('forbid N1 "t"\n  when x = 1\n', "bad.policy")
    assert exc.value.diagnostics[0].code == "E003"
    with pytest.raises(FormatError) as exc:
        format_source('forbid N1 "t"\n  severity low\n  severity high\n', "dup.policy")
    assert exc.value.diagnostics[0].code == "E105"


# ---- the command ---------------------------------------------------------------------------------
def test_fmt_check_shows_a_diff_and_exits_1(tmp_path: Path) -> None:
    f = tmp_path / "x.policy"
    f.write_text('forbid N1 "t"/"T"\n  when a  and b\n', encoding="utf-8")
    res = qq("fmt", "--check", tmp_path, "--lang", "en")
    assert res.exit_code == 1
    assert res.stdout == (
        f"--- {f} (current)\n+++ {f} (formatted)\n@@ -1,2 +1,2 @@\n"
        '-forbid N1 "t"/"T"\n-  when a  and b\n+forbid N1 "t" / "T"\n+  when a and b\n')
    assert res.stderr == "1 file would be reformatted (run `qinqing fmt`), 0 already formatted\n"
    assert qq("fmt", "--check", tmp_path).stderr == "1 个文件需要格式化（运行 `qinqing fmt` 改写），0 个文件已符合格式\n"
    assert f.read_text(encoding="utf-8") == 'forbid N1 "t"/"T"\n  when a  and b\n'  # untouched


def test_fmt_rewrites_in_place(tmp_path: Path) -> None:
    f = tmp_path / "x.policy"
    f.write_text('forbid N1 "t"/"T"\n  when a  and b\n', encoding="utf-8")
    res = qq("fmt", f, "--lang", "en")
    assert res.exit_code == 0 and res.stderr == "1 file reformatted, 0 left unchanged\n"
    assert f.read_text(encoding="utf-8") == 'forbid N1 "t" / "T"\n  when a and b\n'
    again = qq("fmt", "--check", f)
    assert again.exit_code == 0 and again.stderr == "1 个文件均已符合格式\n"


def test_fmt_reports_files_it_cannot_format(tmp_path: Path) -> None:
    (tmp_path / "bad.policy").write_text('forbid N1 "t"\n  when x = 1\n', encoding="utf-8")
    (tmp_path / "ok.policy").write_text('forbid N2 "t"\n', encoding="utf-8")
    res = qq("fmt", tmp_path, tmp_path / "gone.policy", "--lang", "en")
    assert res.exit_code == 2
    assert f"No such file or folder: {tmp_path / 'gone.policy'}" in res.stderr
    assert "error[E003]: `=` is not a comparison" in res.stderr
    assert res.stderr.endswith("0 files reformatted, 1 left unchanged; 2 could not be formatted (see above)\n")


def test_fmt_stdin_to_stdout() -> None:
    res = qq("fmt", "-", input='forbid N1 "t"/"T"\n  when a  and b\n')
    assert res.exit_code == 0
    assert res.stdout == 'forbid N1 "t" / "T"\n  when a and b\n'


def test_bundled_packs_are_formatted() -> None:
    """CI: `qinqing fmt --check rules/` passes."""
    res = qq("fmt", "--check", ROOT / "rules", "--lang", "en")
    assert res.exit_code == 0, res.stdout
