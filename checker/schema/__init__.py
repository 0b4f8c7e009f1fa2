"""The bundled record JSON Schema (`record.schema.json`), read once."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def record_schema() -> dict:
    """The interaction record schema (draft 2020-12). Callers must not change it."""
    return json.loads(resources.files(__package__).joinpath("record.schema.json").read_text("utf-8"))
