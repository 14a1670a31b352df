"""``gradcheck eval``: check the gradient of one expression."""

from __future__ import annotations

import json
import sys

import click

from gradcheck.cli.options import ExpressionCommand, checking, common, name_list
from gradcheck.errors import GradcheckError
from gradcheck.render.safe import printable


@click.command("eval", cls=ExpressionCommand)
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
    callback=name_list,
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

    Variables given no value with --at are drawn at random (seeded, printed). An
    EXPRESSION may start with a minus sign: write it as it is, anywhere on the line.

    \b
    Examples:
      gradcheck eval "1/(2+sin(w1*x1)**2+cos(w2*x2))" --at w1=-3 --at x1=-2 --at w2=2 --at x2=-1
      gradcheck eval "sum(sigmoid(W @ x)**2)" --at "W=[[1,2],[3,1]]" --at "x=[[1],[1]]"
      gradcheck eval "0.5*sum((z - y)**2)" --let "p=V1 @ x + b1" --let "z=V2 @ relu(p) + b2"
      gradcheck eval "x*exp(-x*y)" --claim "x=exp(-x*y)*(1-x*y)"
      gradcheck eval "-sum(y*log(p))" --at "y=[0, 1]" --at "p=[0.3, 0.7]"
    """
    from gradcheck.check import check, failed
    from gradcheck.results import Report
    from gradcheck.source.problems import problem

    try:  # an expression that cannot be built is still a report, for --format json
        built = problem(expression, lets=lets, at=at, wrt=wrt, claims=claims)
    except GradcheckError as error:
        report = Report([failed(expression.strip(), error, expression=expression)])
    else:
        report = check(built, settings)
    emit(report, fmt, no_color)
    sys.exit(report.exit_code)


def emit(report, fmt: str, no_color: bool) -> None:
    """The report (JSON on stdout, errors also on stderr), or a lone error as one line."""
    from gradcheck.render.summary import error_message

    errors = [error_message(p) for p in report.problems if p.status == "error"]
    if fmt == "json":
        from gradcheck.render.json import to_json

        click.echo(json.dumps(to_json(report), indent=2))
        for message in errors:
            click.echo(f"error: {printable(message)}", err=True)
        return
    if len(report.problems) == 1 and errors:
        click.echo(f"error: {printable(errors[0])}", err=True)
        return
    from gradcheck.render.console import make_console
    from gradcheck.render.tables import render

    make_console(no_color).print(render(report))
