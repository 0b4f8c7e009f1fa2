"""JSON and YAML documents: read whole (up to `MAX_DOCUMENT_BYTES`), one record or a list.

YAML is read with a safe loader that keeps timestamps as written and floats exact
(`Decimal`); alias expansion is bounded ("billion laughs"), and a document nested too
deeply for the parser is one invalid record with a clear message, not a crash.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson

from checker.input.jsonl import json_error, parse_json
from checker.input.messages import RecordError
from checker.input.sources import (
    MAX_YAML_EXPANSION,
    LoadWarning,
    decode_text,
    loader_error,
    read_document,
)


def read_json(
    stream: io.BufferedReader,
    name: str,
    encoding: str,
    warnings: list[LoadWarning] | None,
    schema: dict,
) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    text = decode_text(read_document(stream, name, "JSON"), name, encoding)
    if not text.strip():
        return
    try:
        doc = parse_json(text)
    except (orjson.JSONDecodeError, ValueError) as exc:
        errors = json_error(exc)
        if isinstance(exc, orjson.JSONDecodeError) and "after document" in exc.msg:
            e = errors[0]
            errors = [
                RecordError(
                    e.path,
                    e.code,
                    e.message_zh + "；如每行一条记录，请使用 .jsonl 扩展名或 --input-format jsonl",
                    e.message_en + "; for one record per line use .jsonl or --input-format jsonl",
                )
            ]
        line = getattr(exc, "lineno", 1) or 1
        yield line, f"{name}:{line}", None, errors
        return
    if isinstance(doc, list):
        for i, item in enumerate(doc, start=1):
            yield i, f"{name}#{i}", item, []
    elif isinstance(doc, dict):
        yield 1, name, doc, []
    else:
        yield (
            1,
            name,
            doc,
            loader_error(
                "json",
                "JSON 文件的顶层应为记录对象或记录数组",
                "the top level of a JSON file must be a record object or an array of records",
            ),
        )


# ---------------------------------------------------------------- YAML


def yaml12_booleans(loader: type) -> type:
    """Make `loader` read `on` and `off` as text, not as YAML 1.1 booleans (true/false and
    yes/no stay booleans): the record kinds have fields named `on` (transfer.on, feedback.on,
    measures[].on, …), which YAML 1.1 would read as the key `true`."""
    import re

    import yaml

    bool_tag = "tag:yaml.org,2002:bool"
    loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != bool_tag]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(bool_tag, re.compile(
        r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE)$"), list("yYnNtTfF"))
    return loader


def _yaml_loader() -> type:
    import yaml

    class RecordLoader(yaml.SafeLoader):
        """SafeLoader that keeps timestamps as written and reads floats exactly."""

        def construct_yaml_timestamp(self, node: Any) -> Any:
            return self.construct_scalar(node)

        def construct_yaml_float(self, node: Any) -> Any:
            text = self.construct_scalar(node).replace("_", "")
            low = text.lower()
            if low in (".inf", "+.inf", "-.inf", ".nan"):
                return float(low.replace(".", ""))
            if ":" in text:  # YAML 1.1 base-60 float
                return super().construct_yaml_float(node)
            return Decimal(text)

    RecordLoader.add_constructor(
        "tag:yaml.org,2002:timestamp", RecordLoader.construct_yaml_timestamp
    )
    RecordLoader.add_constructor("tag:yaml.org,2002:float", RecordLoader.construct_yaml_float)
    return yaml12_booleans(RecordLoader)


def read_yaml(
    stream: io.BufferedReader,
    name: str,
    encoding: str,
    warnings: list[LoadWarning] | None,
    schema: dict,
) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    import yaml

    text = decode_text(read_document(stream, name, "YAML"), name, encoding)
    loader = _yaml_loader()(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
                line = node.start_mark.line + 1
                expanded, distinct = _yaml_size(node)
                if expanded > distinct * 10 + MAX_YAML_EXPANSION:
                    yield (
                        line,
                        f"{name}:{line}",
                        None,
                        loader_error(
                            "yaml",
                            f"YAML 文档展开别名后过大（{expanded} 个节点），未读取",
                            f"the YAML document is too large once aliases are expanded "
                            f"({expanded} nodes); not read",
                        ),
                    )
                    continue
                doc = loader.construct_document(node)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
                line = mark.line + 1 if mark is not None else 1
                col = mark.column + 1 if mark is not None else 1
                problem = getattr(exc, "problem", None) or str(exc)
                yield (
                    line,
                    f"{name}:{line}",
                    None,
                    loader_error(
                        "yaml",
                        f"YAML 格式错误（第 {line} 行第 {col} 列）：{problem}；此后的内容未读取",
                        f"invalid YAML at line {line}, column {col}: {problem}; "
                        "the rest of the file was not read",
                    ),
                )
                return
            except RecursionError:  # deeper than the parser can follow: nothing after is read
                line = _mark_line(loader)
                yield (
                    line,
                    f"{name}:{line}",
                    None,
                    loader_error(
                        "too_deep",
                        f"YAML 文档嵌套层数过多（第 {line} 行附近），无法读取；此后的内容未读取",
                        f"the YAML document is nested too deeply to read (near line {line}); "
                        "the rest of the file was not read",
                    ),
                )
                return
            if doc is None:
                continue
            if isinstance(doc, list):  # a document holding a list of records
                for item_node, item in zip(node.value, doc, strict=True):
                    item_line = item_node.start_mark.line + 1
                    yield item_line, f"{name}:{item_line}", item, []
            else:
                yield line, f"{name}:{line}", doc, []
    finally:
        loader.dispose()


def _mark_line(loader: Any) -> int:
    try:
        return loader.get_mark().line + 1
    except Exception:  # noqa: BLE001 - a broken parser state: the start will do
        return 1


def _yaml_size(root: Any) -> tuple[int, int]:
    """(nodes once aliases are expanded, distinct nodes) of a composed document."""
    import yaml

    weight: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            if isinstance(node, yaml.MappingNode):
                kids = [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                kids = node.value
            else:
                kids = []
            weight[key] = 1 + sum(weight.get(id(k), 1) for k in kids)
            continue
        if key in weight:
            continue
        weight[key] = 1  # in progress; a recursive alias counts once
        stack.append((node, True))
        if isinstance(node, yaml.MappingNode):
            stack.extend((n, False) for pair in node.value for n in pair if id(n) not in weight)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((n, False) for n in node.value if id(n) not in weight)
    return weight[id(root)], len(weight)

