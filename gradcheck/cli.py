"""The command line: a thin shell over the library. The only module that prints.

Bad input becomes one clear message and exit code 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click

from . import __version__
from .errors import GradcheckError

FORMATS = click.Choice(["table", "json"])


def _console(no_color: bool):
    """A console for stdout; --no-color or NO_COLOR means plain text, no escapes at all."""
    from rich.console import Console

    plain = no_color or bool(os.environ.get("NO_COLOR"))
    wide = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120
    return Console(
        highlight=False, width=wide, soft_wrap=False, **({"color_system": None} if plain else {})
    )


def common(command):
    """--format, --rtol, --atol, --seed, --no-color: shared by every command."""
    options = [
        click.option(
            "--format",
            "fmt",
            type=FORMATS,
            default="table",
            show_default=True,
            help="table for people, json (to stdout) for programs.",
        ),
        click.option(
            "--rtol",
            type=click.FloatRange(min=0),
            default=None,
            help="Relative tolerance for finite differences and claims [default: 1e-06].",
        ),
        click.option(
            "--atol",
            type=click.FloatRange(min=0),
            default=None,
            help="Absolute tolerance for finite differences and claims [default: 1e-09].",
        ),
        click.option(
            "--seed",
            type=int,
            default=0,
            show_default=True,
            help="Seed for randomly drawn values (printed with them).",
        ),
        click.option("--no-color", is_flag=True, help="No colours (NO_COLOR is honoured too)."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def checking(command):
    """Options of the commands that check gradients (eval, check)."""
    options = [
        click.option("--strict", is_flag=True, help="Count kinks as failures."),
        click.option(
            "--step",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="A fixed finite-difference step for every method "
            "[default: scaled to each input and method].",
        ),
        click.option(
            "--mode",
            type=click.Choice(["full", "directional"]),
            default="full",
            show_default=True,
            help="full: every entry; directional: g.u along random unit directions u.",
        ),
        click.option(
            "--probes",
            type=click.IntRange(min=1),
            default=3,
            show_default=True,
            help="Random directions in --mode directional.",
        ),
        click.option(
            "--points",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Random points to check at (when some values are drawn).",
        ),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="gradcheck")
def main() -> None:
    """Is this gradient right? And if not, where and why.

    gradcheck compares the symbolic derivative (SymPy), backprop through a compiled
    NumPy graph and forward, backward and central finite differences, entry by entry.

    \b
    Examples:
      gradcheck eval "1/(2+sin(w1*x1)**2+cos(w2*x2))"
      gradcheck eval "x*exp(-x*y)" --claim "x=exp(-x*y)*(1-x*y)"
      gradcheck diff "sum(sigmoid(W @ x)**2)" --at "W=random(3,3)" --at "x=random(3)"
    """


@main.command("eval")
@click.argument("expression")
@click.option(
    "--at",
    "at",
    multiple=True,
    metavar="NAME=VALUE",
    help="A value: a number, a list like [[1,2],[3,4]], or random(3,3). Repeatable.",
)
@click.option(
    "--wrt",
    metavar="NAMES",
    help="Comma-separated inputs to differentiate [default: every input not used as an index].",
)
@click.option(
    "--let",
    "lets",
    multiple=True,
    metavar="NAME=EXPR",
    help="A named intermediate, usable in later --let and in EXPRESSION. Repeatable.",
)
@click.option(
    "--claim",
    "claims",
    multiple=True,
    metavar="NAME=EXPR",
    help="A hand-derived d(EXPRESSION)/d(NAME) to verify. Repeatable.",
)
@checking
@common
def eval_command(
    expression,
    at,
    wrt,
    lets,
    claims,
    fmt,
    rtol,
    atol,
    seed,
    no_color,
    strict,
    step,
    mode,
    probes,
    points,
):
    """Check the gradient of one scalar EXPRESSION.

    Variables given no value with --at are drawn at random (seeded, printed).

    \b
    Examples:
      gradcheck eval "1/(2+sin(w1*x1)**2+cos(w2*x2))" --at w1=-3 --at x1=-2 --at w2=2 --at x2=-1
      gradcheck eval "sum(sigmoid(W @ x)**2)" --at "W=[[1,2],[3,1]]" --at "x=[[1],[1]]"
      gradcheck eval "0.5*sum((z - y)**2)" --let "p=V1 @ x + b1" --let "z=V2 @ relu(p) + b2"
      gradcheck eval "x*exp(-x*y)" --claim "x=exp(-x*y)*(1-x*y)"
    """
    from .check import Settings, check, failed
    from .problems import problem
    from .results import Report

    names = None if wrt is None else [n.strip() for n in wrt.split(",") if n.strip()]
    try:
        built = problem(expression, lets=lets, at=at, wrt=names, claims=claims)
    except GradcheckError as error:
        report = Report([failed(expression.strip(), error, expression=expression)])
    else:
        settings = Settings(
            rtol=rtol,
            atol=atol,
            seed=seed,
            strict=strict,
            mode=mode,
            probes=probes,
            points=points,
            step=step,
        )
        report = check(built, settings)
    _emit(report, fmt, no_color)
    sys.exit(report.exit_code)


def _shard(ctx, param, value):
    if value is None:
        return None
    k, sep, n = value.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise click.BadParameter(f"{value!r} is not K/N with 1 <= K <= N, like 2/4")
    return int(k), int(n)


@main.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes.",
)
@click.option("--junit", type=click.Path(dir_okay=False), help="Write a JUnit XML report here.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first file that fails.")
@click.option(
    "--shard",
    metavar="K/N",
    callback=_shard,
    help="Check only the K-th of N shares of the files (a stable split by path).",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show every problem in full, not only those that did not pass.",
)
@checking
@common
def check_command(
    paths,
    jobs,
    junit,
    fail_fast,
    shard,
    verbose,
    fmt,
    rtol,
    atol,
    seed,
    no_color,
    strict,
    step,
    mode,
    probes,
    points,
):
    """Check problem files: every *.yaml / *.yml below each folder given.

    One broken file never stops the others. Exit code 2 if any problem could not be
    checked, else 1 if any failed, else 0. With GITHUB_ACTIONS=true, failures are also
    printed as GitHub annotations on the file and line.

    \b
    Examples:
      gradcheck check problems/
      gradcheck check problems/ -j 2 --junit report.xml
      gradcheck check problems/ --shard 1/4 --format json
    """
    from .batch import in_shard, run
    from .check import Settings
    from .files import find

    try:
        found = find(list(paths))
    except GradcheckError as error:
        _fail(error, no_color)
    if not found:
        _fail(GradcheckError(f"no problem files (*.yaml, *.yml) in {', '.join(paths)}"), no_color)
    if shard is not None:
        found = [p for p in found if in_shard(p, shard)]
    settings = Settings(
        rtol=rtol,
        atol=atol,
        seed=seed,
        strict=strict,
        mode=mode,
        probes=probes,
        points=points,
        step=step,
    )
    report = _run_with_progress(run, found, settings, jobs, fail_fast, no_color)
    if junit:
        from .ci import junit as junit_xml

        Path(junit).write_text(junit_xml(report), encoding="utf-8")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        from .ci import annotations

        for line in annotations(report):
            click.echo(line, err=fmt == "json")
    if fmt == "json":
        from .report import to_json

        click.echo(json.dumps(to_json(report), indent=2))
    else:
        from .report import batch_view

        _console(no_color).print(batch_view(report, verbose, shard))
    sys.exit(report.exit_code)


def _run_with_progress(run, found, settings, jobs, fail_fast, no_color):
    """A progress bar on a terminal when the batch is long enough to wait for."""
    if len(found) < 4 or not sys.stderr.isatty():
        return run(found, settings, jobs=jobs, fail_fast=fail_fast)
    from .report import progress_bar

    with progress_bar(len(found), no_color) as advance:
        return run(found, settings, jobs=jobs, fail_fast=fail_fast, progress=advance)


@main.command("diff")
@click.argument("expression")
@click.option(
    "--at",
    "at",
    multiple=True,
    metavar="NAME=VALUE",
    help="Values; only their shapes matter here (e.g. W=random(3,3)).",
)
@click.option("--wrt", metavar="NAMES", help="Comma-separated inputs [default: all].")
@click.option("--let", "lets", multiple=True, metavar="NAME=EXPR", help="A named intermediate.")
@click.option("--latex", is_flag=True, help="Print LaTeX instead of plain text.")
@common
def diff_command(expression, at, wrt, lets, latex, fmt, rtol, atol, seed, no_color):
    """Print the symbolic derivatives of EXPRESSION, simplified.

    \b
    Examples:
      gradcheck diff "1/(2+sin(w1*x1)**2+cos(w2*x2))"
      gradcheck diff "sum(sigmoid(W @ x)**2)" --at "W=random(2,2)" --at "x=random(2)" --latex
    """
    from .problems import problem
    from .symbolic import SymbolicUnavailable, derivative_table

    names = None if wrt is None else [n.strip() for n in wrt.split(",") if n.strip()]
    try:
        built = problem(expression, lets=lets, at=at, wrt=names)
        rows = derivative_table(built.program, built.wrt, latex=latex)
    except GradcheckError as error:
        _fail(error, no_color)
    except SymbolicUnavailable as exc:
        _fail(GradcheckError(f"no symbolic derivative: {exc}"), no_color)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "version": 1,
                    "expression": built.expression,
                    "derivatives": [
                        {"wrt": n, "index": list(i), "entry": label, "formula": f}
                        for n, i, label, f in rows
                    ],
                },
                indent=2,
            )
        )
        return
    from .report import derivative_latex, derivative_view

    if latex:
        click.echo("\n".join(derivative_latex(rows)))
    else:
        _console(no_color).print(derivative_view(built.expression, rows))


def _emit(report, fmt: str, no_color: bool) -> None:
    if fmt == "json":
        from .report import to_json

        click.echo(json.dumps(to_json(report), indent=2))
        for problem in report.problems:
            if problem.status == "error":
                click.echo(f"error: {problem.message}", err=True)
        return
    from .report import render

    errors = [p for p in report.problems if p.status == "error"]
    if len(report.problems) == 1 and errors:
        click.echo(f"error: {errors[0].message}", err=True)
        return
    _console(no_color).print(render(report))


def _fail(error: GradcheckError, no_color: bool):
    click.echo(f"error: {error}", err=True)
    sys.exit(error.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
