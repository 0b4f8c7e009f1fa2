"""Compiled builds of a package's hot modules, used only while they match their source.

`setup.py` compiles a few modules of the record path with Cython, from the very same `.py`
files (no other source: same semantics, about a quarter fewer machine instructions per
record), and writes a manifest `native.json` in each package that has some: for each compiled
module, the SHA-256 of the source it was compiled from. `install(package)` puts a finder first
on `sys.meta_path` that imports that package's module from its compiled file only while the
`.py` still has that hash; an edited source (an editable install not rebuilt since), a
compiled file the manifest does not list (left over from an earlier build), a missing build or
`QINQING_PURE=1` imports the `.py` itself. Each package installs its own finder from its
`__init__` (`policy_dsl` here; `checker` calls `install("checker")`). Without a C compiler or
Cython at install time nothing is compiled and everything runs as plain Python. `status()`
tells which is in use (`qinqing --version`).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

PURE_ENV = "QINQING_PURE"
_FINDERS: dict[str, _Finder] = {}  # package → its finder (one each)


def _manifest(root: Path) -> dict[str, str]:
    try:
        data = json.loads((root / "native.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    mods = data.get("modules") if isinstance(data, dict) else None
    if not isinstance(mods, dict):
        return {}
    return {k: v for k, v in mods.items() if isinstance(k, str) and isinstance(v, str)}


def _paths(top: Path, name: str) -> tuple[Path, Path | None]:
    """(the module's source, its compiled file or None); `top` holds the package folder."""
    base = top.joinpath(*name.split("."))
    source = base.with_suffix(".py")
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        compiled = base.parent / (base.name + suffix)
        if compiled.is_file():
            return source, compiled
    return source, None


def _choice(top: Path, name: str, digest: str | None) -> tuple[Path, Path | None, str]:
    """(source, compiled file to load or None, why)."""
    source, compiled = _paths(top, name)
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return source, None, f"source ({PURE_ENV})"
    if compiled is None:
        return source, None, "source (not compiled)"
    if digest is None:
        return source, None, "source (not in the manifest)"
    try:
        actual = hashlib.sha256(source.read_bytes()).hexdigest()
    except OSError:
        return source, None, "source (unreadable)"
    if actual != digest:
        return source, None, "source (edited since it was compiled)"
    return source, compiled, "compiled"


class _Finder:
    """Imports the package's modules that have a compiled file: that file while the manifest
    lists it with its source's current hash, else the source (a compiled file left over from
    an earlier build is never imported by the default finders, which would prefer it)."""

    def __init__(self, package: str, root: Path):
        self.package, self.root, self.top = package, root, root.parent
        self.modules = _manifest(root)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not fullname.startswith(self.package + ".") or _paths(self.top, fullname)[1] is None:
            return None  # no compiled file: the usual import
        source, compiled, _why = _choice(self.top, fullname, self.modules.get(fullname))
        if compiled is not None:
            loader: Any = importlib.machinery.ExtensionFileLoader(fullname, str(compiled))
            return importlib.util.spec_from_file_location(fullname, compiled, loader=loader)
        if not source.is_file():
            return None
        loader = importlib.machinery.SourceFileLoader(fullname, str(source))
        return importlib.util.spec_from_file_location(fullname, source, loader=loader)


def install(package: str) -> None:
    """Put the finder of `package` (an imported package) first on `sys.meta_path`, once."""
    if package in _FINDERS:
        return
    finder = _FINDERS[package] = _Finder(package, Path(sys.modules[package].__file__).resolve().parent)
    sys.meta_path.insert(0, finder)


def status() -> dict[str, str]:
    """Module → "compiled" or why its source is used, for every package's manifest; empty when
    nothing was compiled."""
    out = {}
    for finder in _FINDERS.values():
        for name, digest in sorted(finder.modules.items()):
            why = _choice(finder.top, name, digest)[2]
            module = sys.modules.get(name)
            if module is not None:  # what is in use, whatever the files say now
                if isinstance(getattr(module, "__loader__", None), importlib.machinery.ExtensionFileLoader):
                    why = "compiled"
                elif why == "compiled":
                    why = "source"
            out[name] = why
    return dict(sorted(out.items()))
