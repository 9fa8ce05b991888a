"""`trustrec eval suite SUITE`, `trustrec eval smoke|full`, `trustrec eval run SUITE`, `trustrec eval PATH.yaml`.

``trustrec eval`` already has subcommands (``ranking``, ``explanations``, ...), and typer cannot take a
free positional next to them, so the suite runner is the ``suite`` command (``run`` is an alias), the
built-in suites have their own commands (``smoke``, ``full``), and the ``eval`` group resolves an
unknown first word that is a YAML path (``*.yaml``/``*.yml`` or an existing file) to ``suite``:
``trustrec eval path/to/suite.yaml`` works too.

Exit status: 0 when every check passed (optional unavailable checks count as skipped), 1 when a
threshold was missed, a check errored or a required part was not available, 2 for a bad suite file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from ui.common import ConfigOption, JsonFlag, OutFile, config_from, console, finish, stdout, user_errors

if TYPE_CHECKING:
    from typer import _click as click  # typer's own click (typer >= 0.20 vendors it)

    from evals.suite import CheckResult

ReportDir = Annotated[
    Path | None,
    typer.Option(
        "--report-dir", help="Folder of the HTML/Markdown/JSON reports (default: <workspace>/reports/suite-<name>)."
    ),
]
Only = Annotated[list[str] | None, typer.Option("--check", help="Run only this check (repeatable).")]


class EvalGroup(TyperGroup):
    """The ``eval`` group: ``trustrec eval path/to/suite.yaml`` runs that suite."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands:
            first = args[0]
            if first.endswith((".yaml", ".yml")) or Path(first).is_file():
                cmd = self.commands.get("suite")
                if cmd is not None:
                    return "suite", cmd, args
        return super().resolve_command(ctx, args)


def _status_line(r: CheckResult) -> None:
    colour = {"passed": "green", "skipped": "yellow"}.get(r.status, "red")
    console.print(
        f"  [{colour}]{r.status.upper()}[/] {r.name} ({r.seconds:.1f} s)" + (f": {r.error}" if r.error else "")
    )
    for t in r.thresholds if r.status != "skipped" else []:
        if not t["passed"]:
            console.print(f"    [red]missed[/] {t['metric']} {t['bound']}: {t['reason']}")


def run_suite_command(
    suite: str,
    report_dir: Path | None,
    config: Path | None,
    only: list[str] | None,
    *,
    json_: bool = False,
    out: Path | None = None,
) -> None:
    """Load, run and report a suite; exit 1 unless every check passed."""
    import time

    from evals.report import write_reports
    from evals.suite import SuiteContext, load_suite, run_suite

    cfg = config_from(config)
    with user_errors():
        spec = load_suite(suite)
    out_dir = report_dir or cfg.workspace().reports / f"suite-{spec.name}"
    ctx = SuiteContext(cfg, out_dir, progress=lambda m: console.print(f"[dim]{m}[/]"))
    t0 = time.perf_counter()
    try:
        with user_errors():
            result = run_suite(spec, ctx, only=only, on_result=_status_line)
    finally:
        ctx.close()
    data = result.to_dict()
    paths = write_reports(data, out_dir)
    finish(data, json_=json_, out=out, show=lambda: _print_summary(data))
    console.print(f"reports: {paths['html']}  {paths['markdown']}  {paths['json']}")
    console.print(f"suite {spec.name}: {'passed' if result.passed else 'FAILED'} in {time.perf_counter() - t0:.1f} s")
    if not result.passed:
        raise typer.Exit(1)


def _print_summary(data: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title=f"suite {data['suite']}: {'PASSED' if data['passed'] else 'FAILED'} ({data['seconds']:.1f} s)")
    for c in ("check", "status", "s", "figure", "value", "bound"):
        t.add_column(c, justify="right" if c in ("s", "value") else "left")
    for c in data["checks"]:
        rows = c["thresholds"] or [{"metric": "-", "value": None, "bound": "", "passed": True}]
        for i, th in enumerate(rows):
            v = th["value"]
            shown = f"{v:.4g}" if isinstance(v, float) else ("-" if v is None else str(v))
            mark = "" if th["passed"] or c["status"] == "skipped" else " [red]x[/]"
            t.add_row(
                c["name"] if i == 0 else "",
                c["status"] if i == 0 else "",
                f"{c['seconds']:.1f}" if i == 0 else "",
                th["metric"],
                shown + mark,
                th["bound"],
            )
    stdout.print(t)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    ev = groups["eval"]
    ev.info.cls = EvalGroup  # `trustrec eval path/to/suite.yaml` (see the module docstring)

    @ev.command("suite")
    def suite_cmd(
        suite: Annotated[str, typer.Argument(help="Built-in suite name (smoke, full) or a YAML path.")],
        report_dir: ReportDir = None,
        check: Only = None,
        config: ConfigOption = None,
        json_: JsonFlag = False,
        out: OutFile = None,
    ) -> None:
        """Run an evaluation suite: JSON, Markdown and HTML reports; exit 1 if a check fails."""
        run_suite_command(suite, report_dir, config, check, json_=json_, out=out)

    ev.command("run", help="Alias of `eval suite`.")(suite_cmd)

    def builtin(name: str, doc: str) -> None:
        def cmd(
            report_dir: ReportDir = None,
            check: Only = None,
            config: ConfigOption = None,
            json_: JsonFlag = False,
            out: OutFile = None,
        ) -> None:
            run_suite_command(name, report_dir, config, check, json_=json_, out=out)

        ev.command(name, help=doc)(cmd)

    builtin("smoke", "The built-in smoke suite (a few minutes on 2 cores).")
    builtin("full", "The built-in full suite (everything at full size; needs the trained model and the agent).")
