"""The ``reactivate`` command line: one entry point that drives every layer.

Each group of commands lives in its own module with a ``register(app)`` function, so the
commands stay thin and the modules stay small.
"""

from __future__ import annotations

import typer

from serving.cli import (
    data_commands,
    feature_commands,
    monitoring_commands,
    outcome_commands,
    results_commands,
    serve_commands,
    training_commands,
)

app = typer.Typer(
    name="reactivate",
    help="Win back lapsed clinic patients: who is likely to return, how to reach them, and why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (data_commands, feature_commands, training_commands, serve_commands,
                monitoring_commands, results_commands, outcome_commands):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
