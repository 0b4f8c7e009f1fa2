"""Record schemas: load one, check it, and find the subschema an error points to.

A schema is accepted when it is a draft 2020-12 JSON Schema that qinqing can
honour exactly: it passes the 2020-12 metaschema (jsonschema-rs's own copy,
with `format: regex` asserted), every `$schema` names draft 2020-12, every
`$ref` / `$dynamicRef` stays inside the schema (nothing is fetched), and every
regular expression is one that ECMA-262 accepts and jsonschema-rs runs with
ECMA-262 semantics (inline flags such as `(?i)`, named groups and Python-only
syntax are refused by name). Anything else raises `SchemaError`, naming the
schema's file, the JSON pointer of the offending place and what is wrong, in
Chinese and English.

`SchemaIndex` maps an error's keyword location (`absolute_keyword_location`
or `schema_path`) back to the schema object holding the keyword, so messages
can use its `x-` annotations (hints, labels, error codes).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

__all__ = [
    "DRAFT_2020_12",
    "SchemaError",
    "SchemaIndex",
    "bundled_schema_text",
    "check_schema",
    "load_schema",
    "load_schema_file",
    "pointer",
]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
BUNDLED_SOURCE = "checker/schema/record.schema.json"
# Resources jsonschema-rs knows without fetching: the 2020-12 metaschema and its vocabularies.
_KNOWN_PREFIX = "https://json-schema.org/draft/2020-12/"

# Keywords whose value is a schema, a list of schemas, or a map of name -> schema.
_ONE = ("additionalProperties", "items", "contains", "propertyNames", "not", "if", "then",
        "else", "unevaluatedItems", "unevaluatedProperties", "additionalItems")
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


class SchemaError(ValueError):
    """A schema qinqing cannot use; names the file and the JSON pointer of the problem."""

    def __init__(self, source: str, where: str, message_zh: str, message_en: str) -> None:
        self.source = source
        self.pointer = where
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{source}#{where}: {message_en}")

    def message(self, lang: str = "zh") -> str:
        text = self.message_en if lang == "en" else self.message_zh
        return f"{self.source}#{self.pointer}: {text}"


def pointer(parts: list | tuple) -> str:
    """A JSON pointer (RFC 6901) from path parts: ('a', 0, 'b/c') -> '/a/0/b~1c'."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def subschemas(node: dict, where: tuple = ()) -> list[tuple[tuple, Any]]:
    """(path, subschema) for every schema directly below `node`."""
    out: list[tuple[tuple, Any]] = []
    for kw in _ONE:
        if kw in node:
            out.append(((*where, kw), node[kw]))
    for kw in _LIST:
        if isinstance(node.get(kw), list):
            out.extend(((*where, kw, i), s) for i, s in enumerate(node[kw]))
    for kw in _MAP:
        if isinstance(node.get(kw), dict):
            out.extend(((*where, kw, k), s) for k, s in node[kw].items())
    return out


def walk(schema: Any) -> list[tuple[tuple, dict, str]]:
    """(path, node, base URI) for every object schema of `schema`, root first."""
    out: list[tuple[tuple, dict, str]] = []
    stack: list[tuple[tuple, Any, str]] = [((), schema, "")]
    while stack:
        where, node, base = stack.pop()
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("$id"), str):
            base = urljoin(base, node["$id"]) if base else node["$id"]
        out.append((where, node, base))
        stack.extend((p, s, base) for p, s in reversed(subschemas(node, where)))
    return out


# ---------------------------------------------------------------- checks


def check_schema(schema: Any, source: str = "<schema>") -> None:
    """Raise `SchemaError` unless `schema` is a draft 2020-12 schema qinqing can honour."""
    import jsonschema_rs

    if not isinstance(schema, (dict, bool)):
        raise SchemaError(source, "", "模式应为 JSON 对象或布尔值",
                          "a schema must be a JSON object or a boolean")
    nodes = walk(schema)
    ids = {urldefrag(base)[0] for _, _, base in nodes if base}
    for where, node, base in nodes:
        declared = node.get("$schema")
        if declared is not None and str(declared).rstrip("#") != DRAFT_2020_12:
            raise SchemaError(
                source, pointer((*where, "$schema")),
                f"只支持 JSON Schema draft 2020-12（$schema 应为 {DRAFT_2020_12}），"
                f"不支持 {declared!r}",
                f"only JSON Schema draft 2020-12 is supported ($schema must be "
                f"{DRAFT_2020_12}), not {declared!r}")
        for kw in ("$ref", "$dynamicRef"):
            ref = node.get(kw)
            if isinstance(ref, str):
                _check_ref(ref, base, ids, source, pointer((*where, kw)))
        if isinstance(node.get("pattern"), str):
            _check_regex(node["pattern"], source, pointer((*where, "pattern")))
        if isinstance(node.get("patternProperties"), dict):
            for p in node["patternProperties"]:
                _check_regex(p, source, pointer((*where, "patternProperties", p)))
    try:
        jsonschema_rs.meta.validate(schema)
    except jsonschema_rs.ValidationError as exc:
        raise SchemaError(
            source, pointer(exc.instance_path),
            f"不符合 JSON Schema draft 2020-12 元模式（{exc.kind.name}）：{exc.message}",
            f"does not conform to the JSON Schema draft 2020-12 metaschema "
            f"({exc.kind.name}): {exc.message}") from None


def _check_ref(ref: str, base: str, ids: set[str], source: str, where: str) -> None:
    target = urldefrag(urljoin(base, ref) if base else ref)[0]
    if not target or target in ids or target.startswith(_KNOWN_PREFIX):
        return
    raise SchemaError(
        source, where,
        f"不支持远程引用 {ref!r}（指向 {target}）：qinqing 不下载模式；"
        "请把所引用的定义放入本模式的 $defs",
        f"remote reference {ref!r} (to {target}) is not supported: qinqing does not fetch "
        "schemas; put the referenced definitions in this schema's $defs")


_FLAG_HINT = ("ECMA-262 正则表达式没有内联标志，请改写（如用 [Aa] 代替 (?i)a）",
              ("ECMA-262 regular expressions have no inline flags; rewrite it "
              "(e.g. [Aa] instead of (?i)a)"))


def _check_regex(pattern: str, source: str, where: str) -> None:
    """Refuse syntax that ECMA-262 lacks or that jsonschema-rs would not run as ECMA-262 does."""
    i, in_class, n = 0, False, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(" and pattern.startswith("?", i + 1):
            nxt = pattern[i + 2 : i + 4]
            if nxt[:1] in (":", "=", "!") or nxt in ("<=", "<!"):
                pass
            elif nxt[:1] == "<":
                raise SchemaError(
                    source, where,
                    f"正则表达式 {pattern!r} 使用了命名分组 (?<…>)，暂不支持；请改用普通分组 (…)",
                    f"regular expression {pattern!r} uses a named group (?<…>), which is not "
                    "supported; use a plain group (…)")
            else:
                raise SchemaError(
                    source, where,
                    f"正则表达式 {pattern!r} 含有 ECMA-262 不支持的写法 "
                    f"'{pattern[i:i + 3]}'；{_FLAG_HINT[0]}",
                    f"regular expression {pattern!r} uses '{pattern[i:i + 3]}', which is not "
                    f"ECMA-262 syntax; {_FLAG_HINT[1]}")
        i += 1


# ---------------------------------------------------------------- loading


@lru_cache(maxsize=1)
def bundled_schema_text() -> str:
    return (resources.files("checker") / "schema" / "record.schema.json").read_text(
        encoding="utf-8")


def load_schema() -> dict:
    """The bundled record schema (a fresh copy each call)."""
    return json.loads(bundled_schema_text())


def load_schema_file(path: str | Path) -> dict:
    """Read and check a schema file; `SchemaError` names the file when it cannot be used."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SchemaError(name, "", f"无法读取模式文件：{reason}",
                          f"cannot read the schema file: {reason}") from None
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(name, "", f"模式文件不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）："
                          f"{exc.msg}", f"the schema file is not valid JSON (line {exc.lineno}, "
                          f"column {exc.colno}): {exc.msg}") from None
    check_schema(schema, name)
    return schema


# ---------------------------------------------------------------- locations


class SchemaIndex:
    """Finds the schema object an error's keyword belongs to."""

    def __init__(self, schema: Any) -> None:
        self.root = schema
        self.resources: dict[str, Any] = {}
        for _, node, base in walk(schema):
            if "$id" in node and base:
                self.resources.setdefault(urldefrag(base)[0], node)

    def resolve(self, parts: list | tuple, start: Any = None) -> Any:
        node = self.root if start is None else start
        for p in parts:
            if isinstance(node, dict) and p in node or isinstance(node, list) and isinstance(p, int) and 0 <= p < len(node):
                node = node[p]
            else:
                return None
        return node

    def keyword_owner(self, error: Any) -> dict:
        """The schema object holding the failed keyword (`{}` when it cannot be found)."""
        parts = list(error.schema_path)
        start = None
        location = error.absolute_keyword_location
        if location:
            uri, frag = urldefrag(location)
            start = self.resources.get(uri)
            if start is not None:
                parts = [_unescape(p) for p in frag.split("/")[1:]] if frag else []
                parts = [int(p) if p.isdigit() and _is_index(start, parts, i) else p
                         for i, p in enumerate(parts)]
        node = self.resolve(parts[:-1], start)
        if not isinstance(node, dict) or parts[-1:] and not _holds(node, parts[-1]):
            whole = self.resolve(parts, start)  # a false schema: the path names the schema
            node = whole if isinstance(whole, dict) else node
        return node if isinstance(node, dict) else {}


def _holds(node: dict, keyword: Any) -> bool:
    return isinstance(keyword, str) and keyword in node


def _is_index(start: Any, parts: list, i: int) -> bool:
    node = start
    for p in parts[:i]:
        if isinstance(node, dict):
            node = node.get(p)
        elif isinstance(node, list) and p.isdigit() and int(p) < len(node):
            node = node[int(p)]
        else:
            return False
    return isinstance(node, list)


def _unescape(part: str) -> str:
    from urllib.parse import unquote

    return unquote(part).replace("~1", "/").replace("~0", "~")
