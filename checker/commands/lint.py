"""`qinqing lint`: every diagnostic of the policies; exit 0 clean, 1 warnings with --strict, 2 errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

import typer


def register(app: typer.Typer) -> None:
    @app.command("lint")
    def lint(
        paths: List[Path] = typer.Argument(..., help="规则文件或目录 / policy files or folders"),
        strict: bool = typer.Option(False, "--strict", help="警告也返回非零 / warnings exit 1"),
        fmt: str = typer.Option("text", "--format", help="text|json"),
        quiet_notes: bool = typer.Option(False, "--no-notes", help="不列出假定参数 / hide notes such as assumed parameters"),
    ) -> None:
        """检查规则文件 / Check policy files: syntax, names, types, parameters."""
        from policy_dsl.errors import render_all, to_json
        from policy_dsl.load import load

        result = load(list(paths))
        diags = [d for d in result.diagnostics if not (quiet_notes and d.severity == "note")]
        errors = [d for d in diags if d.severity == "error"]
        warnings = [d for d in diags if d.severity == "warning"]
        notes = [d for d in diags if d.severity == "note"]
        if fmt == "json":
            sys.stdout.write(to_json(diags) + "\n")
        else:
            color = sys.stdout.isatty()
            if diags:
                sys.stdout.write(render_all(diags, result.sources, color=color) + "\n\n")
            rules = len(result.program.rules) if result.program else 0
            sys.stdout.write(f"{len(result.sources)} files, {rules} rules: {len(errors)} errors, "
                             f"{len(warnings)} warnings, {len(notes)} notes\n")
        if errors:
            raise typer.Exit(2)
        if strict and warnings:
            raise typer.Exit(1)
