"""Compiled modules (policy_dsl/native.py): used only while current, and the same bytes out."""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from policy_dsl import native

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "fixtures" / "sample" / "batch.jsonl"
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package `fakepkg` with one module, its (fake) compiled file and its manifest; its
    finder is the only one `status()` knows."""
    pkg = tmp_path / "fakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    source = pkg / "mod.py"
    source.write_text("VALUE = 1\n")
    (pkg / f"mod{SUFFIX}").write_bytes(b"not really compiled")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    (pkg / "native.json").write_text(json.dumps({"modules": {"fakepkg.mod": digest}}))
    monkeypatch.setattr(native, "_FINDERS", {"fakepkg": native._Finder("fakepkg", pkg)})
    monkeypatch.delenv(native.PURE_ENV, raising=False)
    return tmp_path


def _finder(tree: Path) -> native._Finder:
    return native._Finder("fakepkg", tree / "fakepkg")


def _loader(tree: Path) -> object:
    spec = _finder(tree).find_spec("fakepkg.mod")
    assert spec is not None
    return spec.loader


def test_current_compiled_file_is_used(tree: Path) -> None:
    assert isinstance(_loader(tree), importlib.machinery.ExtensionFileLoader)
    assert native.status() == {"fakepkg.mod": "compiled"}


def test_edited_source_is_used_instead_of_a_stale_build(tree: Path) -> None:
    (tree / "fakepkg" / "mod.py").write_text("VALUE = 2\n")
    assert isinstance(_loader(tree), importlib.machinery.SourceFileLoader)
    assert native.status() == {"fakepkg.mod": "source (edited since it was compiled)"}


def test_pure_environment_and_missing_build_use_the_source(tree: Path, monkeypatch) -> None:
    monkeypatch.setenv(native.PURE_ENV, "1")
    assert isinstance(_loader(tree), importlib.machinery.SourceFileLoader)
    monkeypatch.delenv(native.PURE_ENV)
    (tree / "fakepkg" / f"mod{SUFFIX}").unlink()
    assert _finder(tree).find_spec("fakepkg.mod") is None  # the usual import
    assert native.status() == {"fakepkg.mod": "source (not compiled)"}


def test_leftover_builds_other_modules_and_bad_manifests(tree: Path) -> None:
    (tree / "fakepkg" / "old.py").write_text("")
    (tree / "fakepkg" / f"old{SUFFIX}").write_bytes(b"from an earlier build")
    finder = _finder(tree)
    spec = finder.find_spec("fakepkg.old")
    assert spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader)
    assert finder.find_spec("fakepkg.plain") is None  # nothing compiled: the usual import
    assert finder.find_spec("otherpkg.mod") is None
    manifest = tree / "fakepkg" / "native.json"
    manifest.write_text("[1, 2]")
    assert native._manifest(tree / "fakepkg") == {} and _finder(tree).modules == {}
    manifest.write_text("{not json")
    assert native._manifest(tree / "fakepkg") == {}


_RUN = """
import sys
from checker.cli import main
from policy_dsl import native
sys.argv = ["qinqing", "check", sys.argv[1], "--format", "json", "--fail-on", "never"]
try:
    main()
except SystemExit:
    pass
print(sorted(set(native.status().values())), file=sys.stderr)
"""


def _check(env: dict) -> tuple[bytes, str]:
    """(the JSON report of the sample batch, what the modules were imported from)."""
    out = subprocess.run([sys.executable, "-c", _RUN, str(SAMPLE)], cwd=ROOT, env=env,
                         capture_output=True, check=True)
    return out.stdout, out.stderr.decode().strip().splitlines()[-1]


def _compiled_modules() -> dict[str, str]:
    import checker  # noqa: F401  (installs checker's finder)

    return {m: d for f in native._FINDERS.values() for m, d in f.modules.items()}


def test_compiled_and_plain_python_write_the_same_report() -> None:
    if not _compiled_modules():
        if os.environ.get("QINQING_EXPECT_COMPILED"):
            pytest.fail("QINQING_EXPECT_COMPILED is set but nothing was compiled at install")
        pytest.skip("installed without compiled modules")
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    compiled, used = _check(env)
    if used != "['compiled']" and os.environ.get("QINQING_EXPECT_COMPILED"):
        pytest.fail(f"compiled modules not in use: {used}")
    plain, used_plain = _check({**env, native.PURE_ENV: "1"})
    assert used_plain == "['source (QINQING_PURE)']"
    assert compiled == plain and b'"records"' in compiled
