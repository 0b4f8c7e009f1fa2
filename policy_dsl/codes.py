"""The registry of diagnostic codes: every code the language can report, with a title and
an explanation. `docs/language.md` documents each one with an example and its fix; a test
keeps the source, this registry and the docs in step.

Ranges: E0xx syntax, E1xx structure (files, packs, rules, names), E2xx types and values,
E3xx parameter files; Wxxx warnings; Nxxx notes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    severity: str  # error | warning | note
    title: str
    explanation: str


def _entry(code: str, title: str, explanation: str) -> tuple[str, str, str]:
    return code, title, explanation


_TABLE: tuple[tuple[str, str, str], ...] = (
    # ---- syntax
    _entry("E001", "unexpected token",
     "The parser met a word or symbol that cannot continue the text at this point; the hint "
     "lists what could."),
    _entry("E002", "unclosed string",
     "A string opened with `\"` is not closed on the same line. Strings cannot span lines."),
    _entry("E003", "`=` used for comparison",
     "`=` only appears in `define name = …`; comparisons are written `==`."),
    _entry("E004", "full-width punctuation",
     "A full-width (Chinese input method) comma, colon, quote, parenthesis or similar appears "
     "outside a string. Policy syntax uses ASCII punctuation; Chinese text belongs in quotes."),
    _entry("E005", "condition without `when`",
     "A rule clause starts with an expression; conditions are introduced by `when` "
     "(or `unless`, `require`)."),
    _entry("E006", "unexpected end of file",
     "The file (or a placeholder's expression) ends in the middle of a rule or expression."),
    _entry("E007", "invalid character or encoding",
     "A character that is not part of the language appears outside a string, or the file is "
     "not UTF-8."),
    _entry("E008", "invalid date",
     "A date literal is not a real calendar date written YYYY-MM-DD."),
    _entry("E009", "file too large",
     "A policy file is larger than the 2 MiB limit."),
    _entry("E010", "unclosed `{` in a message",
     "A `{` in a `say`/`remedy` text starts a placeholder that is never closed. "
     "Write `{{` for a literal brace."),
    _entry("E011", "invalid placeholder",
     "The expression between `{` and `}` in a message does not parse."),
    # ---- structure
    _entry("E012", "expression nested too deeply",
           "An expression (or a chain of definitions using each other) is nested deeper than the "
           "checker supports (100 levels of an expression, 32 of definitions). Split it into "
           "named definitions."),
    # ---- structure
    _entry("E100", "cannot read a policy file",
     "A path given to the loader does not exist or cannot be read."),
    _entry("E101", "duplicate rule id",
     "Two rules share an id. Rule ids are stable and unique across every pack loaded."),
    _entry("E102", "unknown rule reference",
     "`overrides`, `covers`, `except` or `require … else` names a rule that is not in this "
     "pack or the packs it imports (or a rule overrides itself)."),
    _entry("E103", "unknown import",
     "`import` names a pack that was not loaded."),
    _entry("E104", "missing required clause",
     "A rule lacks a clause its kind requires: `severity` (forbid, permit, boundary), `cite`, "
     "`when` (all but boundary templates), `covers` (tolerance)."),
    _entry("E105", "clause given twice",
     "A rule has two clauses of the same kind; only `require` may repeat."),
    _entry("E106", "unknown name",
     "A bare name is neither a record field, a variable bound by `for each`/`some`/`all`/"
     "`count`/`sum`, nor a `define`d name (nor, in a comparison with an enum, one of its values)."),
    _entry("E107", "recursive definition",
     "A definition refers to itself, directly or through other definitions."),
    _entry("E108", "wrong number of arguments",
     "A function or definition is called with the wrong number of arguments, or a "
     "definition with parameters is used without arguments (or the reverse)."),
    _entry("E109", "import cycle",
     "Packs import each other in a cycle."),
    _entry("E110", "missing or repeated `policy`",
     "Every policy file declares exactly one `policy` (its pack)."),
    _entry("E111", "`require … else` names a non-boundary",
     "The rule after `else` must be a `boundary`; a boundary about each element of a list "
     "can only be used by a permit iterating the same list."),
    _entry("E112", "misplaced clause",
     "A clause is not allowed in this kind of rule (for example `require` outside a permit, "
     "`covers` outside a tolerance, `for each` together with `window`)."),
    _entry("E113", "duplicate pack",
     "Two files declare the same pack name."),
    _entry("E114", "duplicate definition",
     "A pack defines the same name twice."),
    _entry("E115", "override cycle",
     "Rules override each other in a cycle (A overrides B and B overrides A), so neither can "
     "win. Decide which rule is the exception and keep only its `overrides`."),
    _entry("E116", "rule in force outside its pack",
     "A rule's `in force` period does not meet its pack's, so the rule never applies. Correct "
     "the dates, or move the rule to a pack in force then."),
    _entry("E117", "`let` hides a name",
     "A `let` gives a name that is already a variable of the rule or a field of the record: "
     "choose another name."),
    _entry("E118", "`let` used where its variable is rebound",
     "A `let` reads a variable that an inner `some`/`all`/`count`/`sum` binds again where the "
     "`let` is used; rename the inner variable."),
    _entry("E120", "unknown record kind",
     "`judges`, `lookup` or `records` names a record kind that no schema describes (bundled, "
     "shipped beside the packs as `<kind>.schema.json`, or given with `--schema`)."),
    _entry("E122", "invalid record schema file",
     "A `*.schema.json` beside the packs cannot be read, is not a JSON Schema of an object, "
     "names its kind badly, or repeats another file's kind."),
    _entry("E123", "`records` without a key",
     "`records(x in KIND where …)` must relate the records by at least one `x.field == value` "
     "(the lookup is by key)."),
    _entry("E124", "rule kind not declared",
     "In a pack that judges several kinds, a rule must say which one it judges (`judges KIND`), "
     "and only one of the pack's."),
    # ---- types and values
    _entry("E201", "unknown field",
     "A field path does not exist in the record schema."),
    _entry("E202", "unknown enum value",
     "A bare name compared with an enum field is not one of its allowed values."),
    _entry("E203", "type mismatch",
     "Operands do not fit the operator or function (money against a string, date against a "
     "number, a non-integer index, a window in months, …)."),
    _entry("E204", "not a list",
     "A quantifier, aggregate or `for each` ranges over something that is not a list, or a "
     "field is read from a list without a quantifier."),
    _entry("E205", "unknown function",
     "A call names neither a builtin nor a `define`d function."),
    _entry("E206", "condition is not true/false",
     "`when`, `unless`, `require`, `and`/`or`/`not` and quantifier bodies need booleans."),
    _entry("E207", "unknown parameter",
     "`param.name` is not declared in the baseline parameter file (000000)."),
    _entry("E208", "parameter missing for a jurisdiction",
     "A rule uses a parameter that has no value in force, on the pack's start date, for a "
     "jurisdiction the pack claims with `applies to`."),
    _entry("E209", "unresolved placeholder",
     "A `{placeholder}` in a message names something that is not available there (a field, a "
     "`for each` variable or a top-level `some` witness), or a title contains a placeholder."),
    _entry("E210", "`window` outside a window rule",
     "`window` (the records sharing the rule's keys) is only available in a rule with a "
     "`window same … within …` clause."),
    _entry("E211", "invalid regular expression",
     "The pattern of `matches` is not a literal string or not a valid regular expression."),
    _entry("E212", "division by constant zero",
     "`/` or `%` by the constant 0: the result would always be unknown."),
    _entry("E213", "table parameter misuse",
     "A table, set or calendar parameter used as a single value, or `row` on something other "
     "than a table parameter with a key column."),
    _entry("E214", "no working-day calendar",
     "`add_working_days`, `working_days_between` and `is_working_day` need the parameter "
     "`working_calendar` of type `calendar`."),
    _entry("E215", "membership in something that is not a list",
     "`x in …` without braces needs a list: a `set` parameter, a list field or a table column."),
    # ---- parameter files
    _entry("E301", "invalid parameter file",
     "A parameter file cannot be read, is not valid YAML, lacks `jurisdiction`, has a malformed "
     "value list, or duplicates another file's jurisdiction."),
    _entry("E302", "parameter type error",
     "A parameter declares an unknown type, or one of its values does not fit its type."),
    _entry("E303", "parameter value without a source",
     "A parameter value has neither a `source` nor `assumed: true`."),
    _entry("E304", "undeclared parameter",
     "A profile gives values for a parameter the baseline (000000) does not declare."),
    # ---- warnings and notes
    _entry("W101", "unused boundary template",
     "A boundary without `when` is only reached through `require … else`; none uses it."),
    _entry("W103", "missing English text",
     "A title or message has only Chinese text; write `\"中文\" / \"English\"`."),
    _entry("W104", "rule partly outside its pack's period",
     "Part of a rule's `in force` period lies outside its pack's; only the days inside apply."),
    _entry("N301", "assumed parameter value",
     "A parameter value is marked `assumed: true`: replace it with a sourced value when the "
     "local rule is known."),
)

_SEVERITY = {"E": "error", "W": "warning", "N": "note"}

CODES: dict[str, Code] = {
    code: Code(code, _SEVERITY[code[0]], title, explanation) for code, title, explanation in _TABLE
}


def lookup(code: str) -> Code | None:
    return CODES.get(code)


def title(code: str) -> str:
    c = CODES.get(code)
    return c.title if c else code
