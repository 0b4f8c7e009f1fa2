"""Load a rule set: find files, parse, resolve packs and imports, check, lower to IR."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from . import ast as A
from . import ir
from . import types as ty
from .errors import Diagnostic, Span, did_you_mean
from .kinds import as_kinds, discover_schemas, load_schema_files
from .lower import RuleLowerer
from .params import ParamSet, _line_span, load_params
from .parser import parse
from .typecheck import CALENDAR_BUILTINS, CALENDAR_PARAM, Checker, Scope

POLICY_SUFFIX = ".policy"


@dataclass
class LoadResult:
    program: ir.ProgramIR | None
    params: ParamSet
    diagnostics: list[Diagnostic]
    sources: dict[str, str] = field(default_factory=dict)  # path → text (policy and parameter files)
    files: list[A.PolicyFile] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def ok(self) -> bool:
        return self.program is not None and not self.errors


def discover(paths: list[str | Path]) -> tuple[list[Path], list[Path], list[Diagnostic]]:
    """Policy files and parameter files under the given files or folders."""
    policies: list[Path] = []
    params: list[Path] = []
    diags: list[Diagnostic] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            policies.extend(sorted(p.rglob(f"*{POLICY_SUFFIX}")))
            params.extend(sorted(q for q in p.rglob("*.yaml") if q.parent.name == "params"))
        elif p.is_file():
            if p.suffix == ".yaml" and p.parent.name == "params":
                params.append(p)
            else:
                policies.append(p)
        else:
            diags.append(Diagnostic("E301" if p.suffix == ".yaml" else "E100",
                                    f"no such file or folder: {raw}", Span(str(raw), 1, 1, 1, 1)))
    # Parameters live beside the packs: a file's or folder's nearest `params/` folder.
    if not params:
        for pol in policies:
            for parent in pol.resolve().parents:
                cand = parent / "params"
                if cand.is_dir():
                    params.extend(sorted(cand.glob("*.yaml")))
                    break
    return _unique(policies), _unique(params), diags


def _unique(paths: list[Path]) -> list[Path]:
    seen, out = set(), []
    for p in paths:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def content_hash(sources: dict[str, str], param_paths: list[Path], extra: list[Path] = ()) -> str:
    h = hashlib.sha256()
    for name in sorted(n for n in sources if n.endswith(POLICY_SUFFIX)):
        h.update(Path(name).name.encode() + b"\0" + sources[name].encode("utf-8") + b"\0")
    # CSV files of table parameters (beside the profiles) and local record schemas
    tables = sorted({c for p in param_paths for c in p.parent.glob("*.csv")})
    for p in sorted(param_paths) + tables + sorted(extra):
        try:
            h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
        except OSError:
            pass
    return h.hexdigest()


def load(paths: list[str | Path], schema: dict) -> LoadResult:
    """Load the packs under `paths`, type-checked against the record JSON Schemas: `schema` is
    one schema (the kind it names, else `interaction`) or a mapping of record kind → schema.
    Schema files beside the packs (`*.schema.json`) add kinds (or replace one)."""
    policy_paths, param_paths, diags = discover(paths)
    sources: dict[str, str] = {}  # policy and parameter file texts, for diagnostics
    schema_paths = discover_schemas(paths)
    schemas = {**as_kinds(schema), **load_schema_files(schema_paths, diags, sources)}
    params = load_params(param_paths, diags, sources)
    files: list[A.PolicyFile] = []
    for path in policy_paths:
        name = str(path)
        try:
            data = path.read_bytes()
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            before = data[:exc.start]
            line = before.count(b"\n") + 1
            col = len(before[before.rfind(b"\n") + 1:].decode("utf-8-sig", "replace")) + 1
            diags.append(Diagnostic("E007", f"policy file is not UTF-8: invalid byte 0x{data[exc.start]:02X} "
                                    f"at line {line}", Span(name, line, col, line, col + 1),
                                    "save the file as UTF-8 (it may be in GBK/GB18030)"))
            continue
        except OSError as exc:
            diags.append(Diagnostic("E100", f"cannot read policy file: {exc.strerror}", Span(name, 1, 1, 1, 1)))
            continue
        sources[name] = text
        pf, d = parse(text, name)
        diags.extend(d)
        if pf is not None:
            files.append(pf)
    program = compile_files(files, params, diags, schemas)
    if program is not None:
        program = ir.ProgramIR(program.packs, content_hash(sources, param_paths, schema_paths), schemas)
    diags.extend(_lint_notes(params))
    return LoadResult(program, params, diags, sources, files)


def compile_files(files: list[A.PolicyFile], params: ParamSet, diags: list[Diagnostic],
                  schema: dict) -> ir.ProgramIR | None:
    schemas = as_kinds(schema)
    packs: dict[str, A.PolicyFile] = {}
    for pf in files:
        if pf.policy is None:
            diags.append(Diagnostic("E110", "file has no `policy` declaration", Span(pf.path, 1, 1, 1, 1),
                                    'start the file with `policy city.list "中文名" / "English name"`'))
            continue
        if pf.policy.name in packs:
            diags.append(Diagnostic("E113", f"pack `{pf.policy.name}` is declared twice", pf.policy.span,
                                    f"the other declaration is in {packs[pf.policy.name].path}"))
            continue
        packs[pf.policy.name] = pf
    # Imports must exist and not form a cycle.
    for pf in packs.values():
        for imp in pf.imports:
            if imp.name not in packs:
                best = did_you_mean(imp.name, packs)
                diags.append(Diagnostic("E103", f"unknown pack `{imp.name}`", imp.span,
                                        f"did you mean `{best}`?" if best else
                                        "load the imported pack too (pass its folder to --rules)"))
    for name, pf in packs.items():
        cycle = _find_cycle(name, packs)
        if cycle:
            imp = next(i for i in pf.imports if i.name == cycle[1])
            diags.append(Diagnostic("E109", "import cycle: " + " → ".join(cycle), imp.span,
                                    "move shared definitions into a pack both can import"))
            return None
    # Rule ids are unique across everything loaded.
    rules_by_id: dict[str, A.Rule] = {}
    owner: dict[str, str] = {}
    for pack_name, pf in packs.items():
        for r in pf.rules:
            if r.id in rules_by_id:
                first_rule = rules_by_id[r.id]
                diags.append(Diagnostic("E101", f"duplicate rule id {r.id}", r.id_span,
                                        "rule ids are stable and unique; choose another id",
                                        notes=(_where(first_rule.span),)))
                continue
            rules_by_id[r.id] = r
            owner[r.id] = pack_name
    _check_override_cycles(rules_by_id, diags)
    kinds = {k: ty.record_type(s) for k, s in schemas.items()}
    first = ir.DEFAULT_KIND if ir.DEFAULT_KIND in kinds else next(iter(kinds), ir.DEFAULT_KIND)
    checker = Checker(kinds.get(first, ty.T("object")), kinds or {first: ty.T("object")}, first)
    lowerer = RuleLowerer(checker, rules_by_id, diags)
    out_packs = []
    failed = False  # a rule could not be lowered: no program
    for name in sorted(packs):
        pf = packs[name]
        visible_packs = _import_closure(name, packs)
        defines: dict[str, A.Define] = {}
        for vp in reversed(visible_packs):  # own definitions shadow imported ones
            for d in packs[vp].defines:
                if vp == name and d.name in defines and defines[d.name] in packs[name].defines:
                    first = defines[d.name]
                    diags.append(Diagnostic("E114", f"`{d.name}` is defined twice in pack {name}", d.span,
                                            "rename one of the definitions or remove it",
                                            notes=(f"first defined at {first.span.file}:{first.span.line}",)))
                    continue
                defines[d.name] = d
        visible_rules = {rid for rid, p in owner.items() if p in visible_packs}
        scope = Scope(defines=defines, params=params, diags=diags)
        header = pf.policy
        pack_kinds = _pack_kinds(header, checker, diags)
        rules = []
        if not pack_kinds:  # no kind it judges is known (E120): its rules are not checked
            failed = True
        for r in pf.rules if pack_kinds else ():
            if owner.get(r.id) != name or rules_by_id.get(r.id) is not r:
                continue
            try:
                lowered = lowerer.lower(r, name, scope, visible_rules, header)
            except RecursionError:
                lowered = None
            if lowered is None or any(_ir_depth(e) > MAX_IR_DEPTH for e in ir.rule_exprs(lowered)):
                diags.append(_too_deep(r.id_span))
                failed = True
                continue
            rules.append(lowered)
        try:
            if pack_kinds:
                _check_defines(pf, checker.for_kind(pack_kinds[0]), scope)
        except RecursionError:
            diags.append(_too_deep(Span(pf.path, 1, 1, 1, 2)))
            failed = True
        p = pf.policy
        assert p is not None  # files without `policy` were left out above
        out_packs.append(ir.PackIR(
            name=name, title=(p.title.zh.raw, p.title.en.raw if p.title.en else p.title.zh.raw),
            version=p.version or "", source=p.source or "",
            start=p.in_force.start if p.in_force else None,
            until=p.in_force.until if p.in_force else None,
            applies_to=p.applies_to, imports=tuple(i.name for i in pf.imports),
            rules=tuple(rules), file=pf.path, kinds=tuple(pack_kinds) or (ir.DEFAULT_KIND,),
            titles=tuple((d.name, d.title.zh.raw, d.title.en.raw if d.title.en else d.title.zh.raw)
                         for d in (*pf.defines, *(x for r in pf.rules for x in r.lets))
                         if d.title is not None)))
    program = ir.ProgramIR(tuple(out_packs), "", schemas)
    _check_program(program, packs, params, diags)
    return None if failed else program


def _pack_kinds(header: A.Policy | None, checker: Checker, diags: list[Diagnostic]) -> list[str]:
    """The kinds a pack judges (its `judges`, default `interaction`); unknown ones reported."""
    if header is None or not header.judges:
        return [checker.kind if ir.DEFAULT_KIND not in checker.kinds else ir.DEFAULT_KIND]
    out: list[str] = []
    for k in header.judges:
        if k.name in checker.kinds:
            if k.name not in out:
                out.append(k.name)
            continue
        best = did_you_mean(k.name, checker.kinds)
        diags.append(Diagnostic("E120", f"unknown record kind `{k.name}`", k.span,
                                f"did you mean `{best}`?" if best else
                                f"record kinds: {', '.join(sorted(checker.kinds))} (a pack may ship "
                                "its own schema as `<kind>.schema.json` beside it)"))
    return out


def _check_defines(pf: A.PolicyFile, checker: Checker, scope: Scope) -> None:
    """Check every definition on its own, used or not: constants fully; parameterised ones
    with parameters of unknown type (names, functions, fields of the record, arity), the
    rest where they are used."""
    for d in pf.defines:
        args: list[ir.Expr] = [ir.Var(p, ty.ANY) for p in d.params or ()]
        checker._expand(d, args, scope, d.span)


def _check_program(program: ir.ProgramIR, packs: dict[str, A.PolicyFile], params: ParamSet,
                   diags: list[Diagnostic]) -> None:
    used_boundaries = {q.boundary for r in program.rules for q in r.requires}
    for pack in program.packs:
        for r in pack.rules:
            if r.kind == "boundary" and r.when is None and r.id not in used_boundaries:
                diags.append(Diagnostic("W101", f"boundary {r.id} has no `when` and no `require` uses it",
                                        r.span, "reference it with `require … else "
                                        f"{r.id}` in a permit, or give it a `when`", "warning"))
        # Every parameter a pack uses must resolve for each jurisdiction it claims, on every
        # day its rules are in force (checked where values can start or stop).
        claimed = pack.applies_to or ("000000",)
        ast_rules = {r.id: r for r in packs[pack.name].rules}
        for r in pack.rules:
            names = sorted({n.name for e in ir.rule_exprs(r) for n in ir.walk(e) if isinstance(n, ir.ParamRef)})
            starts = [d for d in (pack.start, r.start) if d is not None]
            ends = [d for d in (pack.until, r.until) if d is not None]
            for code in claimed:
                for n in names:
                    gap = _param_gap(params, n, code, max(starts) if starts else None,
                                     min(ends) if ends else None)
                    if gap is not None:
                        on = f" on {gap}" if gap != dt.date.min else ""
                        diags.append(Diagnostic(
                            "E208", f"parameter `param.{n}` has no value for jurisdiction {code}{on}",
                            _param_span(ast_rules.get(r.id), n, r.span),
                            f"add a value in force from {gap} to params/{code}.yaml or to a profile it "
                            "inherits (its city, province or 000000)" if on else
                            "give it a value in params/000000.yaml or in this jurisdiction's profile"))


def _param_gap(params: ParamSet, name: str, code: str, start: dt.date | None,
               until: dt.date | None) -> dt.date | None:
    """The first day in [start, until) on which `name` has no value for `code`, or None.
    Without a start date the check begins where the parameter's first value does;
    `date.min` means it has no value at all."""
    versions = [v for prof in params.chain(code)
                for v in params.profiles[prof].values.get(name, ())]
    if not versions:
        return dt.date.min
    decl = params.decls.get(name)
    if decl is not None and decl.type.kind == "calendar":
        return None  # a calendar covers the days its versions list; other days are unknown
    first = start or min(v.start for v in versions)
    days = {first} | {v.until for v in versions if v.until is not None and v.until > first}
    for day in sorted(days):
        if until is not None and day >= until:
            break
        if params.resolve(name, code, day) is None:
            return day
    return None


def _param_span(rule: A.Rule | None, name: str, default: Span) -> Span:
    """Where a rule mentions `param.name` (directly, not through a definition)."""
    if rule is None:
        return default
    found: list[Span] = []

    def visit(node) -> None:
        if isinstance(node, A.Param) and node.name == name:
            found.append(node.span)
        elif isinstance(node, A.Call) and name == CALENDAR_PARAM and node.fn in CALENDAR_BUILTINS:
            found.append(node.fn_span)  # the calendar is the implicit argument of these
        elif isinstance(node, (tuple, list)):
            for x in node:
                visit(x)
        elif hasattr(node, "__dataclass_fields__") and not isinstance(node, Span):
            for f in node.__dataclass_fields__:
                if f not in ("span", "clause_spans"):
                    visit(getattr(node, f))
    visit(rule)
    return min(found, key=lambda sp: (sp.line, sp.column)) if found else rule.id_span


def _lint_notes(params: ParamSet) -> list[Diagnostic]:
    out = []
    for prof, name, v in params.assumed():
        out.append(Diagnostic("N301", f"assumed value: {name} = {v.value} for {prof.code} from {v.start}",
                              _line_span(prof.file, prof.text_lines, v.line),
                              "replace it with a sourced value when the local rule is known", "note"))
    return out


MAX_IR_DEPTH = 150  # after definitions are inlined; backends recurse over the IR


def _too_deep(span: Span) -> Diagnostic:
    return Diagnostic("E012", "expression nested too deeply (after expanding its definitions)", span,
                      "give parts of it names with `define`, or flatten chains of definitions")


def _ir_depth(e: ir.Expr) -> int:
    best, stack = 0, [(e, 1)]
    while stack:
        node, d = stack.pop()
        best = max(best, d)
        stack.extend((c, d + 1) for c in ir.children(node))
    return best


def _where(span: Span) -> str:
    return f"first defined at {span.file}:{span.line}"


def _check_override_cycles(rules: dict[str, A.Rule], diags: list[Diagnostic]) -> None:
    """Rules that override each other in a cycle: neither can win (E115), reported once per
    cycle, at the `overrides` of its first rule in id order."""
    graph = {rid: [ref for ref in r.overrides if ref.id in rules and ref.id != rid]
             for rid, r in rules.items()}
    reported: set[frozenset[str]] = set()
    for start in sorted(graph):
        # Depth-first search for a path from `start` back to itself.
        stack: list[tuple[str, list[A.RuleRef]]] = [(start, [])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for ref in graph[node]:
                if ref.id == start:
                    cycle = [start] + [p.id for p in path]
                    key = frozenset(cycle)
                    if key not in reported and min(cycle) == start:
                        reported.add(key)
                        first = path[0] if path else ref
                        diags.append(Diagnostic(
                            "E115", "override cycle: " + " → ".join(cycle + [start]), first.span,
                            "two rules cannot both be the exception to each other: keep the "
                            "`overrides` of the rule that wins and remove the other"))
                elif ref.id not in seen:
                    seen.add(ref.id)
                    stack.append((ref.id, path + [ref]))


def _import_closure(name: str, packs: dict[str, A.PolicyFile]) -> list[str]:
    out, stack = [], [name]
    while stack:
        n = stack.pop()
        if n in out or n not in packs:
            continue
        out.append(n)
        stack.extend(i.name for i in packs[n].imports)
    return out


def _find_cycle(start: str, packs: dict[str, A.PolicyFile]) -> list[str] | None:
    path: list[str] = []

    def dfs(n: str) -> list[str] | None:
        if n in path:
            return path[path.index(n):] + [n] if n == start else None
        if n not in packs:
            return None
        path.append(n)
        for imp in packs[n].imports:
            found = dfs(imp.name)
            if found:
                return found
        path.pop()
        return None
    return dfs(start)
