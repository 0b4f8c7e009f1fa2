"""Optional compiled builds of the record path's hot modules (see policy_dsl/native.py).

Everything else about the project is in pyproject.toml. The modules below are compiled with
Cython from their own `.py` files, unchanged (Python semantics kept: annotations are not
turned into C types). When Cython or a C compiler is missing, or a module fails to compile,
the install goes on and that module runs as plain Python.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
# Where a record's time goes (benchmarks/ablate.py, callgrind by file): the rule closures,
# evaluation, value helpers, report entries and the JSONL decoder.
NATIVE = [
    "policy_dsl/backends/python.py",
    "policy_dsl/evaluate.py",
    "policy_dsl/values.py",
    "checker/findings/render.py",
    "checker/input/fastjson.py",
]
MANIFEST = "native.json"  # in each package folder that has compiled modules


def _name(source: str) -> str:
    return source[:-3].replace("/", ".")


class build_native(build_ext):
    """build_ext that compiles what it can and records what it compiled, from which source."""

    def finalize_options(self) -> None:
        exts = self.distribution.ext_modules or []
        if os.environ.get("QINQING_PURE", "") not in ("", "0"):
            self.warn("QINQING_PURE is set: nothing compiled, plain Python")
            exts = []
        else:
            try:
                from Cython.Build import cythonize
            except ImportError:
                self.warn("Cython is not installed: nothing compiled, plain Python")
                exts = []
            else:
                exts = cythonize(exts, build_dir="build/cython", quiet=True, language_level=3,
                                 nthreads=os.cpu_count() or 1,
                                 compiler_directives={"annotation_typing": False})
        self.distribution.ext_modules = exts
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def run(self) -> None:
        self.failed: set[str] = set()
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - no compiler, say: the install goes on
            self.failed.update(ext.name for ext in self.extensions)
            self.warn(f"compiling failed ({exc}): plain Python")
        self._write_manifest()

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001 - this module stays plain Python
            self.failed.add(ext.name)  # (a file of an earlier build may still be there)
            self.warn(f"{ext.name} not compiled ({exc}): plain Python")

    def _write_manifest(self) -> None:
        """One manifest per top-level package: its compiled modules and their sources' hashes."""
        by_package: dict[str, dict[str, str]] = {_name(s).split(".")[0]: {} for s in NATIVE}
        for ext in self.extensions:
            built = Path(self.get_ext_fullpath(ext.name))
            if built.is_file() and ext.name not in self.failed:
                source = HERE / (ext.name.replace(".", "/") + ".py")
                by_package[ext.name.split(".")[0]][ext.name] = hashlib.sha256(source.read_bytes()).hexdigest()
        for package, modules in by_package.items():
            text = json.dumps({"modules": modules}, indent=1, sort_keys=True) + "\n"
            targets = {Path(self.build_lib) / package / MANIFEST}
            if self.inplace or getattr(self, "editable_mode", False):
                targets.add(HERE / package / MANIFEST)
            for target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")


setup(
    ext_modules=[Extension(_name(s), [s], optional=True) for s in NATIVE],
    cmdclass={"build_ext": build_native},
)
