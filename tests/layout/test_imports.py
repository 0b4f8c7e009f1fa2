"""The layout shows the pipeline: `policy_dsl` imports nothing from `checker`, each package of
`checker` imports only the stages before it, and no module imports itself through others.

Imports are read from the source (every `import` statement, those inside functions included)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# checker's packages in pipeline order: a package may import itself and those before it
ORDER = ["schema", "input", "findings", "engine", "reports", "store", "run", "authoring", "service",
         "commands", "cli"]


def modules() -> dict[str, Path]:
    out = {}
    for top in ("policy_dsl", "checker"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = modules()


def imports(name: str, path: Path) -> set[str]:
    """The project modules `name` imports (a package import counts as its `__init__`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for t in targets:
            while t and t not in MODULES:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


GRAPH = {name: imports(name, path) for name, path in MODULES.items()}


def _stage(name: str) -> int | None:
    parts = name.split(".")
    if parts[0] != "checker" or len(parts) == 1:
        return None
    return ORDER.index(parts[1])


def test_policy_dsl_imports_nothing_from_checker() -> None:
    bad = {m: sorted(t for t in ts if t.startswith("checker")) for m, ts in GRAPH.items()
           if m.startswith("policy_dsl")}
    assert {m: ts for m, ts in bad.items() if ts} == {}


def test_importing_policy_dsl_loads_no_checker_module() -> None:
    code = "import sys, policy_dsl, policy_dsl.load, policy_dsl.evaluate; " \
           "print(sorted(m for m in sys.modules if m.split('.')[0] == 'checker'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_checker_packages_import_only_earlier_stages() -> None:
    upward = []
    for m, targets in GRAPH.items():
        here = _stage(m)
        if here is None:
            continue
        for t in targets:
            there = _stage(t)
            if there is not None and there > here:
                upward.append(f"{m} → {t}")
    assert upward == []


def test_no_import_cycles() -> None:
    cycles = []
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(GRAPH.get(m, ())):
            if state.get(t) == 1:
                cycles.append(" → ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)
    assert cycles == []


def test_every_module_says_its_job() -> None:
    missing = [m for m, p in MODULES.items()
               if p.stat().st_size and ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None]
    assert missing == []
