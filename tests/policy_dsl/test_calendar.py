"""The working-day calendar: the bundled national calendar (rules/params/000000.yaml) against an
independent source, the working-day builtins at the examples of record-kinds.md, and the
validation of calendar parameter values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from policy_dsl.errors import Diagnostic
from policy_dsl.ir import Calendar
from policy_dsl.params import load_params
from policy_dsl.values import add_working_days, is_working_day, working_days_between

ROOT = Path(__file__).parents[2]
D = dt.date


@pytest.fixture(scope="module")
def national() -> Calendar:
    diags: list[Diagnostic] = []
    params = load_params([ROOT / "rules" / "params" / "000000.yaml"], diags)
    assert [d for d in diags if d.severity == "error"] == []
    resolved = params.resolve("working_calendar", "150302", D(2025, 6, 1))
    assert resolved is not None and "国办发明电〔2024〕12号" in (resolved.source or "")
    return resolved.value


def test_covers_2013_to_2026(national: Calendar) -> None:
    assert national.spans == ((D(2013, 1, 1), D(2027, 1, 1)),)
    assert is_working_day(national, D(2012, 12, 31)) is None
    assert is_working_day(national, D(2027, 1, 4)) is None


def test_every_day_agrees_with_chinesecalendar(national: Calendar) -> None:
    cc = pytest.importorskip("chinese_calendar")
    day, differ = D(2013, 1, 1), []
    while day < D(2027, 1, 1):
        if is_working_day(national, day) != cc.is_workday(day):
            differ.append(day)
        day += dt.timedelta(days=1)
    assert differ == []


@pytest.mark.parametrize("start, n, due", [
    (D(2025, 9, 26), 5, D(2025, 10, 10)),   # Sunday 09-28 is a make-up working day; 10-01..08 are not
    (D(2025, 9, 26), 10, D(2025, 10, 16)),  # Saturday 10-11 counts
    (D(2025, 9, 30), 5, D(2025, 10, 14)),
    (D(2025, 9, 26), 0, D(2025, 9, 26)),
    (D(2025, 10, 10), -5, D(2025, 9, 26)),
    (D(2020, 1, 23), 1, D(2020, 2, 3)),     # the 2020 Spring Festival, extended to 02-02
    (D(2015, 9, 2), 1, D(2015, 9, 6)),      # 抗战胜利70周年: 09-03..05 off, Sunday 09-06 worked
])
def test_add_working_days(national: Calendar, start: dt.date, n: int, due: dt.date) -> None:
    assert add_working_days(national, start, n) == due
    if n > 0:
        assert working_days_between(national, start, due) == n


def test_working_days_between(national: Calendar) -> None:
    assert working_days_between(national, D(2025, 10, 10), D(2025, 9, 26)) == -5
    assert working_days_between(national, D(2025, 10, 1), D(2025, 10, 8)) == 0
    assert working_days_between(national, D(2026, 12, 30), D(2027, 1, 5)) is None  # past the calendar
    assert add_working_days(national, D(2026, 12, 30), 5) is None


@pytest.mark.parametrize("value, message", [
    ("{holidays: [2025-10-01..2025-09-01]}", "is not a range of days"),
    ("{holidays: [2025-10-01], makeup_workdays: [2025-10-01]}", "both a holiday and a make-up working day"),
    ("{makeup_workdays: [2025-10-13]}", "is a Monday, not a weekend day"),
    ("{holidays: [2026-01-01]}", "lies outside the version's 2025-01-01..2026-01-01"),
    ("{holiday: [2025-10-01]}", "unknown key `holiday`"),
    ("[2025-10-01]", "a calendar is"),
])
def test_bad_calendar_values(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "params" / "000000.yaml"
    path.parent.mkdir()
    path.write_text(
        'jurisdiction: "000000"\nparameters:\n  working_calendar:\n    type: calendar\n    values:\n'
        f"      - {{from: 2025-01-01, until: 2026-01-01, source: 测试, value: {value}}}\n", encoding="utf-8")
    diags: list[Diagnostic] = []
    load_params([path], diags)
    assert [d.code for d in diags] == ["E302"]
    assert message in diags[0].message


def test_a_local_calendar_adds_its_days(tmp_path: Path) -> None:
    folder = tmp_path / "params"
    folder.mkdir()
    (folder / "000000.yaml").write_text(
        'jurisdiction: "000000"\nparameters:\n  working_calendar:\n    type: calendar\n    values:\n'
        "      - {from: 2025-01-01, until: 2026-01-01, source: 国, value: {holidays: [2025-10-01..2025-10-08], "
        "makeup_workdays: [2025-09-28, 2025-10-11]}}\n", encoding="utf-8")
    (folder / "450000.yaml").write_text(
        'jurisdiction: "450000"\nparameters:\n  working_calendar:\n    values:\n'
        "      - {from: 2025-01-01, until: 2026-01-01, source: 广西三月三, value: {holidays: [2025-03-31..2025-04-01]}}\n",
        encoding="utf-8")
    diags: list[Diagnostic] = []
    params = load_params(sorted(folder.glob("*.yaml")), diags)
    assert diags == []
    guangxi = params.resolve("working_calendar", "450107", D(2025, 4, 1)).value
    national = params.resolve("working_calendar", "150302", D(2025, 4, 1)).value
    assert is_working_day(guangxi, D(2025, 3, 31)) is False and is_working_day(national, D(2025, 3, 31)) is True
    assert is_working_day(guangxi, D(2025, 10, 11)) is True  # the national make-up day still counts
