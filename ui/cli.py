"""The ``trustrec`` command line. Each command group lives in its own ``ui/cmd_*.py`` module
with a ``register(app)`` function; commands import heavy libraries inside their bodies so
``trustrec --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="trustrec",
    help="trustrec: an explainable conversational recommender.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Shared groups that several modules add commands to: `trustrec eval ...`, `trustrec bench ...`.
groups: dict[str, typer.Typer] = {
    "eval": typer.Typer(
        help="Evaluate: ranking, explanations, calibration, fairness, conversation, suites.", no_args_is_help=True
    ),
    "bench": typer.Typer(help="Benchmarks that print figures (tables and JSON).", no_args_is_help=True),
}
for _group, _sub in groups.items():
    app.add_typer(_sub, name=_group)

# Command modules, one per area; each has `register(app, groups)`. Append a line when adding one.
_COMMAND_MODULES = [
    "ui.cmd_bench",
    "ui.cmd_data",
    "ui.cmd_index",
    "ui.cmd_explain",
    "ui.cmd_suite",
    "ui.cmd_llm",
    "ui.cmd_eval_ranking",
    "ui.cmd_train",
    "ui.cmd_conversation",
    "ui.cmd_faithfulness",
    "ui.cmd_understanding",
    "ui.cmd_serve",
    "ui.cmd_auth",
    "ui.cmd_batch",
]

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app, groups)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
