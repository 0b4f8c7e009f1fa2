"""`parse_datetime`'s shortcut for the common spelling (`datetime.fromisoformat`) gives exactly
what the full RFC 3339 parser gives, on every combination of awkward fields."""

from __future__ import annotations

import itertools
import re

import pytest

from checker.input import normalise

PARTS = [["2024", "0001", "9999"], ["02", "12", "13", "00"], ["28", "29", "30", "31"], ["T", "t"],
         ["00", "23", "24"], ["00", "59", "60"], ["00", "59", "60"], ["", ".5", ".123456", ".1234567"],
         ["Z", "z", "+08:00", "-00:00", "+23:59", "+24:00", "+10:60", "+01", "-05:30"]]


def test_the_shortcut_agrees_with_the_full_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    spellings = [f"{y}-{mo}-{d}{t}{h}:{mi}:{s}{f}{z}" for y, mo, d, t, h, mi, s, f, z in itertools.product(*PARTS)]
    fast = [normalise.parse_datetime(v) for v in spellings]
    monkeypatch.setattr(normalise, "_COMMON", re.compile(r"(?!)"))  # never the shortcut
    full = [normalise.parse_datetime(v) for v in spellings]
    for v, a, b in zip(spellings, fast, full):
        assert (a is None) == (b is None), v
        if a is not None:
            assert (a, a.isoformat(), a.utcoffset()) == (b, b.isoformat(), b.utcoffset()), v
    assert sum(a is not None for a in fast) > 1000
