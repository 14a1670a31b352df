"""``gradcheck diff``: the symbolic derivatives of an expression, simplified."""

from __future__ import annotations

import json

import click

from gradcheck.cli.options import ExpressionCommand, common, name_list, timeout
from gradcheck.errors import GradcheckError


@click.command("diff", cls=ExpressionCommand)
@click.argument("expression")
@click.option(
    "--at",
    "at",
    multiple=True,
    metavar="NAME=VALUE",
    help="Values; only their shapes matter here (e.g. W=random(3,3)).",
)
@click.option(
    "--wrt", metavar="NAMES", callback=name_list, help="Comma-separated inputs [default: all]."
)
@click.option("--let", "lets", multiple=True, metavar="NAME=EXPR", help="A named intermediate.")
@click.option("--latex", is_flag=True, help="Print LaTeX instead of plain text.")
@timeout
@common
def diff_command(expression, at, wrt, lets, latex, timeout, fmt, rtol, atol, seed, no_color):
    """Print the symbolic derivatives of EXPRESSION, simplified.

    An EXPRESSION may start with a minus sign: write it as it is.

    \b
    Examples:
      gradcheck diff "1/(2+sin(w1*x1)**2+cos(w2*x2))"
      gradcheck diff "sum(sigmoid(W @ x)**2)" --at "W=random(2,2)" --at "x=random(2)" --latex
    """
    from gradcheck.deadline import deadline
    from gradcheck.engine.formulas import derivative_table
    from gradcheck.errors import SymbolicUnavailable
    from gradcheck.source.problems import problem

    try:
        with deadline(timeout, "differentiating the expression"):
            built = problem(expression, lets=lets, at=at, wrt=wrt)
            rows = derivative_table(built.program, built.wrt, latex=latex)
    except SymbolicUnavailable as exc:
        raise GradcheckError(f"no symbolic derivative: {exc}") from None
    if fmt == "json":
        from gradcheck.render.json import derivatives_json

        click.echo(json.dumps(derivatives_json(built.expression, rows), indent=2))
    elif latex:
        from gradcheck.render.derivatives import derivative_latex

        click.echo("\n".join(derivative_latex(rows)))
    else:
        from gradcheck.render.console import make_console
        from gradcheck.render.derivatives import derivative_view

        make_console(no_color).print(derivative_view(built.expression, rows))
