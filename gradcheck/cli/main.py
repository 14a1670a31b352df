"""The command line: a thin shell over the library. The only module that prints.

Bad input becomes one clear message and exit code 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from gradcheck.errors import GradcheckError
from gradcheck.version import __version__

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
    """Options of the commands that check gradients (eval, check), gathered with the
    shared --rtol, --atol and --seed into one ``settings`` argument."""

    @functools.wraps(command)
    def with_settings(
        *args, strict, step, mode, probes, points, methods, dtype, rtol, atol, seed, **kwargs
    ):
        from gradcheck.check import Settings

        settings = Settings(
            rtol=rtol,
            atol=atol,
            seed=seed,
            strict=strict,
            mode=mode,
            probes=probes,
            points=points,
            step=step,
            methods=methods,
            dtype=dtype,
        )
        return command(*args, settings=settings, **kwargs)

    options = [
        click.option("--strict", is_flag=True, help="Count kinks as failures."),
        click.option(
            "--step",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="A fixed finite-difference step for every method [default: chosen per entry].",
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
        click.option(
            "--methods",
            callback=_methods,
            default="forward,backward,central",
            show_default=True,
            metavar="LIST|all",
            help="Estimators: forward, backward, central, complex, richardson.",
        ),
        click.option(
            "--dtype",
            type=click.Choice(["float64", "float32"]),
            default="float64",
            show_default=True,
            help="Working precision of the graph and the differences.",
        ),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), with_settings)


def _name_list(ctx, param, value) -> list[str] | None:
    """``V1, b1`` -> ``["V1", "b1"]`` (None when the option is not given)."""
    return None if value is None else [n.strip() for n in value.split(",") if n.strip()]


def _methods(ctx, param, value):
    from gradcheck.check import METHODS

    names = list(METHODS) if value.strip() == "all" else [m.strip() for m in value.split(",")]
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown method {unknown[0] if unknown else value!r}; the "
            f"methods are {', '.join(METHODS)}, or all"
        )
    return tuple(dict.fromkeys(names))


class _Guarded(click.Group):
    """A bug of ours becomes one line and exit code 2, never a traceback (set
    GRADCHECK_DEBUG=1 to see it)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get("GRADCHECK_DEBUG"):
                raise
            click.echo(
                f"error: internal error ({type(exc).__name__}: {exc}); please report it, "
                "with the command that led to it",
                err=True,
            )
            sys.exit(2)


@click.group(cls=_Guarded, context_settings={"help_option_names": ["-h", "--help"]})
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
      gradcheck check problems/
      gradcheck trace problems/seed-004-network-0.yaml --jacobians
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
    callback=_name_list,
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
def eval_command(expression, at, wrt, lets, claims, fmt, no_color, settings):
    """Check the gradient of one scalar EXPRESSION.

    Variables given no value with --at are drawn at random (seeded, printed).

    \b
    Examples:
      gradcheck eval "1/(2+sin(w1*x1)**2+cos(w2*x2))" --at w1=-3 --at x1=-2 --at w2=2 --at x2=-1
      gradcheck eval "sum(sigmoid(W @ x)**2)" --at "W=[[1,2],[3,1]]" --at "x=[[1],[1]]"
      gradcheck eval "0.5*sum((z - y)**2)" --let "p=V1 @ x + b1" --let "z=V2 @ relu(p) + b2"
      gradcheck eval "x*exp(-x*y)" --claim "x=exp(-x*y)*(1-x*y)"
    """
    from gradcheck.check import check, failed
    from gradcheck.results import Report
    from gradcheck.source.problems import problem

    try:
        built = problem(expression, lets=lets, at=at, wrt=wrt, claims=claims)
    except GradcheckError as error:
        report = Report([failed(expression.strip(), error, expression=expression)])
    else:
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
def check_command(paths, jobs, junit, fail_fast, shard, verbose, fmt, no_color, settings):
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
    from gradcheck.batch import in_shard, run
    from gradcheck.source.files import find

    try:
        found = find(list(paths))
    except GradcheckError as error:
        _fail(error, no_color)
    if not found:
        _fail(GradcheckError(f"no problem files (*.yaml, *.yml) in {', '.join(paths)}"), no_color)
    if shard is not None:
        found = [p for p in found if in_shard(p, shard)]
    report = _run_with_progress(run, found, settings, jobs, fail_fast, no_color)
    if junit:
        from gradcheck.render.ci import junit as junit_xml

        Path(junit).write_text(junit_xml(report), encoding="utf-8")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        from gradcheck.render.ci import annotations

        for line in annotations(report):
            click.echo(line, err=fmt == "json")
    if fmt == "json":
        from gradcheck.render.report import to_json

        click.echo(json.dumps(to_json(report), indent=2))
    else:
        from gradcheck.render.report import batch_view

        _console(no_color).print(batch_view(report, verbose, shard))
    sys.exit(report.exit_code)


def _run_with_progress(run, found, settings, jobs, fail_fast, no_color):
    """A progress bar on a terminal when the batch is long enough to wait for."""
    if len(found) < 4 or not sys.stderr.isatty():
        return run(found, settings, jobs=jobs, fail_fast=fail_fast)
    from gradcheck.render.report import progress_bar

    with progress_bar(len(found), no_color) as advance:
        return run(found, settings, jobs=jobs, fail_fast=fail_fast, progress=advance)


@main.command("sweep")
@click.argument("source", metavar="EXPR|FILE")
@click.option(
    "--wrt",
    metavar="NAME|NAME[i,j]",
    help="The entry to sweep [default: the first input; of an array, the entry "
    "with the largest gradient].",
)
@click.option(
    "--steps",
    default="1e-1:1e-13:25",
    show_default=True,
    metavar="LO:HI:N",
    help="N steps, evenly spaced in log, from LO to HI.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    metavar="FILE.png|svg",
    help="Also draw the plot to a file (needs matplotlib: gradcheck[plot]).",
)
@click.option("--at", "at", multiple=True, metavar="NAME=VALUE", help="A value (EXPR only).")
@click.option(
    "--let", "lets", multiple=True, metavar="NAME=EXPR", help="A named intermediate (EXPR only)."
)
@click.option(
    "--problem",
    "which",
    metavar="NAME|N",
    help="In a file of several problems, the one to sweep (name or number).",
)
@common
def sweep_command(source, wrt, steps, plot, at, lets, which, fmt, rtol, atol, seed, no_color):
    """Each estimator's error against the exact derivative as the step h varies.

    The V of truncation (large steps) and round-off (small ones) for one entry, per
    method: forward, backward, central, complex step (where f is analytic) and
    Richardson; the best step of each, and where gradcheck's automatic step lands.

    \b
    Examples:
      gradcheck sweep "(w3*sigmoid(w2*sigmoid(w1*x)) - 10)**2" --wrt w1 \\
          --at w1=2 --at w2=2 --at w3=3 --at x=1
      gradcheck sweep problems/seed-004-network-0.yaml --wrt "V1[1,0]" --plot sweep.png
    """
    from gradcheck.tools.sweep import parse_steps, sweep

    try:
        built = _one_problem(source, at, lets, which)
        result = sweep(built, wrt, parse_steps(steps), seed)
        if plot:
            _save_plot(result, plot)
    except GradcheckError as error:
        _fail(error, no_color)
    if fmt == "json":
        from gradcheck.render.report import sweep_json

        click.echo(json.dumps(sweep_json(result), indent=2))
    else:
        from gradcheck.render.report import sweep_view

        _console(no_color).print(sweep_view(result))


def _one_problem(source: str, at, lets, which, wrt=None):
    """A problem from an expression, or from a problem file (its first, or ``which``)."""
    from gradcheck.source.files import SUFFIXES, Broken, load
    from gradcheck.source.problems import problem

    path = Path(source)
    if path.suffix.lower() in SUFFIXES and not path.is_file():
        raise GradcheckError(f"{source}: no such file")
    if path.is_dir() and not source.isidentifier():  # "x" is a variable, even beside ./x
        raise GradcheckError(f"{source} is a folder; give one problem file (or use check)")
    if path.suffix.lower() not in SUFFIXES:
        return problem(source, lets=lets, at=at, wrt=wrt)
    if at or lets or wrt:
        raise GradcheckError(
            "--at, --let and --wrt go with an expression; a problem file has its own"
        )
    items = load(source)
    if which is not None:
        chosen = [p for n, p in enumerate(items, 1) if p.name == which or str(n) == which]
        if not chosen:
            raise GradcheckError(f"{source} holds no problem {which!r}", where="--problem")
        items = chosen
    if isinstance(items[0], Broken):
        raise items[0].error
    return items[0]


def _save_plot(result, path: str) -> None:
    if Path(path).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise GradcheckError(f"--plot {path}: the file must end in .png, .svg or .pdf")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise GradcheckError(
            "--plot needs matplotlib, which is not installed; install it "
            "with: pip install 'gradcheck[plot]'"
        ) from None
    from gradcheck.render.report import save_plot

    save_plot(result, path)


@main.command("diff")
@click.argument("expression")
@click.option(
    "--at",
    "at",
    multiple=True,
    metavar="NAME=VALUE",
    help="Values; only their shapes matter here (e.g. W=random(3,3)).",
)
@click.option(
    "--wrt", metavar="NAMES", callback=_name_list, help="Comma-separated inputs [default: all]."
)
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
    from gradcheck.engine.symbolic import SymbolicUnavailable, derivative_table
    from gradcheck.source.problems import problem

    try:
        built = problem(expression, lets=lets, at=at, wrt=wrt)
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
    from gradcheck.render.report import derivative_latex, derivative_view

    if latex:
        click.echo("\n".join(derivative_latex(rows)))
    else:
        _console(no_color).print(derivative_view(built.expression, rows))


@main.command("trace")
@click.argument("source", metavar="EXPR|FILE")
@click.option("--at", "at", multiple=True, metavar="NAME=VALUE", help="A value (EXPR only).")
@click.option(
    "--let", "lets", multiple=True, metavar="NAME=EXPR", help="A named intermediate (EXPR only)."
)
@click.option(
    "--wrt",
    metavar="NAMES",
    callback=_name_list,
    help="Comma-separated inputs to backprop to (EXPR only) [default: all].",
)
@click.option(
    "--problem",
    "which",
    metavar="NAME|N",
    help="In a file of several problems, the one to trace (name or number).",
)
@click.option(
    "--jacobians", is_flag=True, help="Every local derivative as a full Jacobian d node/d input."
)
@click.option(
    "--dot",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Also write the graph in Graphviz DOT (and, when dot is installed, FILE.svg and "
    "FILE.png; a FILE ending in .svg, .png or .pdf is rendered to that).",
)
@click.option("--latex", is_flag=True, help="Print the node table as LaTeX instead.")
@common
def trace_command(
    source, at, lets, wrt, which, jacobians, dot, latex, fmt, rtol, atol, seed, no_color
):
    """The computational graph node by node, the way a hand computation lays it out.

    Forward: each node's operation and value. Backward: each node's adjoint (d f/d
    node), its local derivative with respect to each input and their product, which
    passes back to that input. A problem file's expect.grad may name let intermediates;
    the first wrong claimed adjoint, going backward, is marked and explained. Exit code
    1 when a claimed adjoint is wrong.

    \b
    Examples:
      gradcheck trace "1/(2+sin(w1*x1)**2+cos(w2*x2))" --at w1=-3 --at x1=-2 --at w2=2 --at x2=-1
      gradcheck trace problems/seed-004-network-0.yaml --jacobians
      gradcheck trace problems/seed-004-network-0.yaml --dot graph.dot
    """
    from gradcheck.tools.trace import trace

    try:
        built = _one_problem(source, at, lets, which, wrt=wrt)
        result = trace(built, jacobians=jacobians, seed=seed, rtol=rtol, atol=atol)
        if dot:
            _write_graph(result, dot)
    except GradcheckError as error:
        _fail(error, no_color)
    from gradcheck.render.trace import trace_json, trace_latex, trace_view

    if fmt == "json":
        click.echo(json.dumps(trace_json(result), indent=2))
    elif latex:
        click.echo(trace_latex(result), nl=False)
    else:
        _console(no_color).print(trace_view(result))
    sys.exit(1 if result.status == "fail" else 0)


def _write_graph(result, path: str) -> None:
    """DOT to ``path`` (or beside it, when ``path`` names a picture), rendered when the
    Graphviz ``dot`` program is there; what was written goes to stderr."""
    from gradcheck.render.trace import trace_dot

    target = Path(path)
    picture = target.suffix.lower() in (".svg", ".png", ".pdf")
    source = target.with_suffix(".dot") if picture else target
    dot = shutil.which("dot")
    if picture and dot is None:
        raise GradcheckError(
            f"--dot {path}: drawing a picture needs Graphviz's dot program, which is not "
            "installed; write a .dot file instead, or install Graphviz"
        )
    try:
        source.write_text(trace_dot(result))
    except OSError as exc:
        raise GradcheckError(f"--dot {path}: cannot write it ({exc.strerror})") from None
    formats = [target.suffix.lower()[1:]] if picture else ["svg", "png"]
    written = [str(source)]
    if dot is not None:
        for form in formats:
            out = source.with_suffix(f".{form}")
            done = subprocess.run(
                [dot, f"-T{form}", str(source), "-o", str(out)], capture_output=True, text=True
            )
            if done.returncode != 0:
                raise GradcheckError(f"--dot {path}: dot failed: {done.stderr.strip()}")
            written.append(str(out))
    note = "" if dot else " (install Graphviz to render it: dot -Tsvg FILE -o FILE.svg)"
    click.echo(f"wrote {', '.join(written)}{note}", err=True)


def _emit(report, fmt: str, no_color: bool) -> None:
    if fmt == "json":
        from gradcheck.render.report import to_json

        click.echo(json.dumps(to_json(report), indent=2))
        for problem in report.problems:
            if problem.status == "error":
                click.echo(f"error: {problem.message}", err=True)
        return
    from gradcheck.render.report import render

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
