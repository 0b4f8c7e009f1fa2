"""`qinqing --version`: the version, and which modules run compiled (policy_dsl/native.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import checker  # noqa: F401  (installs checker's finder of compiled modules)
from policy_dsl import native

ROOT = Path(__file__).resolve().parents[2]


def _version(**env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    out = subprocess.run([sys.executable, "-m", "checker.cli", "--version"], cwd=ROOT,
                         env={**base, **env}, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_version_names_the_package_and_the_compiled_modules() -> None:
    lines = _version()
    assert lines[0] == f"qinqing {version('qinqing')}"
    modules = {m: d for f in native._FINDERS.values() for m, d in f.modules.items()}
    if not modules:
        assert lines[1:] == ["compiled modules / 已编译模块: 0 of 0 (plain Python / 纯 Python)"]
        return
    done = len(modules) - len(lines[2:])
    assert lines[1] == f"compiled modules / 已编译模块: {done} of {len(modules)}"
    if os.environ.get("QINQING_EXPECT_COMPILED"):
        assert done == len(modules), lines


def test_version_lists_each_module_run_as_source_and_why() -> None:
    modules = {m: d for f in native._FINDERS.values() for m, d in f.modules.items()}
    lines = _version(**{native.PURE_ENV: "1"})
    assert lines[1].startswith(f"compiled modules / 已编译模块: 0 of {len(modules)}")
    assert lines[2:] == [f"  {name}: source (QINQING_PURE)" for name in sorted(modules)]
