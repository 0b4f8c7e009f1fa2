"""The `qinqing` command line: wires the pipeline stages together.

Each subcommand lives in its own module under `checker/commands/` and exposes
`register(app)`. Command modules keep heavy imports inside their functions so
that `qinqing --help` and a one-record check start fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="qinqing",
    help="亲清政商关系合规检查 / Compliance checker for government-business interactions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Order is the order shown in `qinqing --help`.
COMMANDS = (
    "check",
    "lint",
    "schema",
    "test",
    "fmt",
    "docs",
    "diff",
    "serve",
    "ledger",
    "audit",
)


def _register_all() -> None:
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"checker.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name == f"checker.commands.{name}":
                continue
            raise
        module.register(app)


def main() -> None:
    _register_all()
    app()


if __name__ == "__main__":
    main()
