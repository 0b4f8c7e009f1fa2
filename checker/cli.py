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
    "report",
    "views",
    "template",
    "lint",
    "schema",
    "test",
    "fmt",
    "docs",
    "diff",
    "serve",
    "ledger",
    "audit",
    "token",
)


def _version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    from policy_dsl import native

    try:
        typer.echo(f"qinqing {version('qinqing')}")
    except PackageNotFoundError:
        typer.echo("qinqing (not installed)")
    modules = native.status()
    done = sum(1 for why in modules.values() if why == "compiled")
    typer.echo(f"compiled modules / 已编译模块: {done} of {len(modules)}"
               + ("" if modules else " (plain Python / 纯 Python)"))
    for name, why in modules.items():
        if why != "compiled":
            typer.echo(f"  {name}: {why}")
    raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="版本及已编译模块 / Version and compiled modules."),
) -> None:
    pass


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
