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

# Command groups, one module each. Append a line here when adding a group.
_COMMAND_MODULES = [
    "ui.cmd_data",
]

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
