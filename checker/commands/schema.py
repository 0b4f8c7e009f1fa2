"""`qinqing schema`: print the record JSON Schema (the field contract of a record)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("schema")
    def schema() -> None:
        """打印记录的 JSON Schema / Print the record JSON Schema (draft 2020-12)."""
        import json
        import sys

        from checker.input.validate import load_schema

        text = json.dumps(load_schema(), ensure_ascii=False, indent=2) + "\n"
        out = sys.stdout
        buffer = getattr(out, "buffer", None)
        if buffer is None:  # a text-only stream
            out.write(text)
            return
        out.flush()
        buffer.write(text.encode("utf-8"))  # UTF-8 whatever the locale
        buffer.flush()
