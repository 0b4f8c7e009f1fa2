"""Bad policies and their exact diagnostics, Catala-style.

Each `bad/*.policy` file ends with an `# expect:` block: the diagnostics `qinqing lint`
prints for it (message, line, column, caret, hint), as comments. A folder `bad/<case>/`
holds several files (packs, `params/`) and its expectation in `expect.txt`.

To re-record after a deliberate change of wording, run

    QINQING_RESET_EXPECTED=1 pytest tests/policy_dsl/test_bad_cases.py

and review the diff: it is the change users will see.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from checker.schema import bundled_schemas
from policy_dsl import codes, parser
from policy_dsl.errors import render_all
from policy_dsl.load import load

HERE = Path(__file__).parent
BAD = HERE / "bad"
MARK = "# expect:"
RESET = os.environ.get("QINQING_RESET_EXPECTED") == "1"
DIRECTIVE = re.compile(rb"^# test: max_policy_bytes=(\d+)$", re.MULTILINE)


def cases() -> list[Path]:
    files = sorted(BAD.glob("*.policy"))
    folders = sorted(p for p in BAD.iterdir() if p.is_dir() and p.name != "params")
    return files + folders


def run_case(case: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The rendered diagnostics of loading a case, with paths relative to tests/policy_dsl."""
    if case.is_file():
        m = DIRECTIVE.search(case.read_bytes())
        if m:
            monkeypatch.setattr(parser, "MAX_POLICY_BYTES", int(m.group(1)))
    result = load([case], bundled_schemas())
    text = render_all(result.diagnostics, result.sources)
    return text.replace(str(HERE) + os.sep, "")


def split_expectation(data: bytes) -> tuple[bytes, str | None]:
    """The policy text before the `# expect:` block, and the block without its `# `."""
    i = data.rfind(b"\n" + MARK.encode())
    if i < 0:
        return data, None
    body = data[i + 1:].decode("utf-8").splitlines()[1:]
    return data[:i + 1], "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                                   for line in body).strip("\n")


def expectation_block(text: str) -> bytes:
    lines = [MARK] + [("# " + line).rstrip() for line in text.splitlines()]
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.mark.parametrize("case", cases(), ids=lambda p: p.name)
def test_bad_case(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    actual = run_case(case, monkeypatch)
    code = case.name.split("_")[0]
    if case.is_file():
        data = case.read_bytes()
        body, expected = split_expectation(data)
        if RESET or expected is None:
            if not body.endswith(b"\n"):
                body += b"\n"
            case.write_bytes(body + expectation_block(actual))
            # Recording changed the file after the block: the rendered lines are the same.
            expected = actual
    else:
        exp_file = case / "expect.txt"
        if RESET or not exp_file.exists():
            exp_file.write_text(actual + "\n", encoding="utf-8")
        expected = exp_file.read_text(encoding="utf-8").rstrip("\n")
    assert actual == expected
    # The case is named after the code it demonstrates, and shows it.
    assert f"[{code}]" in actual, f"{case.name} does not report {code}"


def test_every_code_has_a_bad_case() -> None:
    shown = {p.name.split("_")[0] for p in cases()}
    assert sorted(set(codes.CODES) - shown) == []


def test_expectations_are_recorded() -> None:
    """No case relies on being recorded on its first run (CI must compare, not record)."""
    for case in cases():
        if case.is_file():
            assert split_expectation(case.read_bytes())[1] is not None, case.name
        else:
            assert (case / "expect.txt").exists(), case.name
