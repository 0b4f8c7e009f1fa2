"""Option values several commands share (typer turns each enum into a checked choice)."""

from __future__ import annotations

from enum import Enum


class Lang(str, Enum):
    zh = "zh"
    en = "en"


class InputFormat(str, Enum):
    jsonl = "jsonl"
    json = "json"
    yaml = "yaml"
    csv = "csv"
    xlsx = "xlsx"
