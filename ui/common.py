"""Shared CLI plumbing: config loading, console output, JSON emission, clean error exits."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from agent.config import TrustrecConfig, load_config

console = Console(stderr=True)  # progress and messages
stdout = Console()  # tables and results

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML config file (default ./trustrec.toml or $TRUSTREC_CONFIG).")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout (nothing else there).")]
OutFile = Annotated[Path | None, typer.Option("--out", help="Also write the result as JSON to this file.")]

T = TypeVar("T")


def config_from(path: Path | None) -> TrustrecConfig:
    with user_errors():
        return load_config(path)


def emit_json(obj: Any, out: Path | None = None) -> None:
    """Write ``obj`` as JSON to stdout, or to ``out`` when given."""
    text = json.dumps(obj, indent=2, default=str, sort_keys=False)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
        console.print(f"wrote {out}")
    else:
        sys.stdout.write(text + "\n")


def finish(obj: Any, *, json_: bool, out: Path | None, show: Callable[[], None] | None = None) -> None:
    """The one output convention of every command: ``--out PATH`` writes the JSON to a file,
    ``--json`` prints it on stdout and nothing else; without ``--json`` the human view (``show``)."""
    if out is not None:
        emit_json(obj, out)
    if json_:
        emit_json(obj)
    elif show is not None:
        show()


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn errors the user can fix (:class:`catalog.errors.TrustrecError`, an invalid config) into a
    one-line message and exit code 2; anything else is a bug and keeps its traceback."""
    from pydantic import ValidationError

    from catalog.errors import TrustrecError

    try:
        yield
    except (TrustrecError, ValidationError) as e:
        from rich.markup import escape

        console.print(f"[bold red]error:[/] {escape(str(e))}")  # "[store] url" is text, not a style tag
        raise typer.Exit(2) from None


def step(message: str) -> Callable[[str], None]:
    """A progress callback that prints each step under a heading."""
    console.print(f"[bold]{message}[/]")
    return lambda m: console.print(f"  {m}")
