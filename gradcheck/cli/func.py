"""``gradcheck func``: check the user's own NumPy code against finite differences."""

from __future__ import annotations

import sys

import click

from gradcheck.cli.eval import emit
from gradcheck.cli.options import checking, common, name_list


@click.command("func")
@click.argument("function", metavar="FILE.py:NAME")
@click.option("--grad", metavar="FILE.py:NAME", help="GRAD(**inputs) returns the gradients.")
@click.option(
    "--backward",
    metavar="FILE.py:NAME",
    help="A layer's backward: BACKWARD(dout, cache), or BACKWARD(dout, **inputs).",
)
@click.option(
    "--at",
    "at",
    multiple=True,
    metavar="NAME=VALUE",
    help="An input by parameter name: a number, a list, or random(4,5). Integers only "
    "(y=[1,3,0]) make a label, never differentiated. Repeatable.",
)
@click.option(
    "--wrt",
    metavar="NAMES",
    callback=name_list,
    help="Comma-separated inputs to differentiate [default: every input but the labels].",
)
@click.option("--jacobian", is_flag=True, help="A layer's full Jacobian, not its VJP.")
@checking
@common
def func_command(function, grad, backward, at, wrt, jacobian, fmt, no_color, settings):
    """Check your own code: the gradients FILE.py:NAME claims, entry by entry.

    \b
    Three conventions:
      NAME(**inputs) -> value, with --grad GRAD: GRAD(**inputs) -> gradients
      NAME(**inputs) -> (value, gradients)
      NAME(**inputs) -> out or (out, cache), with --backward BACKWARD (a layer: checked
        through sum(out * dout) with a seeded random dout, or whole with --jacobian)
    Gradients: a dict by input name, a tuple in parameter order, or one array. The code
    runs in a worker process, stopped at --timeout; your arrays are never modified.

    \b
    Examples:
      gradcheck func loss.py:loss --grad loss.py:loss_grad --at "W=random(10,5)" --at "x=random(5)"
      gradcheck func layers.py:affine_forward --backward layers.py:affine_backward \\
          --at "x=random(4,5)" --at "w=random(5,3)" --at "b=random(3)"
      gradcheck func layers.py:softmax_loss --at "x=random(6,10)" --at "y=[1,3,0,9,2,2]" --wrt x
      gradcheck func big.py:loss --grad big.py:grad --at "x=random(1000000)" --mode directional
    """
    from gradcheck.check import failed
    from gradcheck.check_code import check_code
    from gradcheck.errors import GradcheckError
    from gradcheck.results import Report
    from gradcheck.source.func import func_problem

    try:
        problem = func_problem(
            function, grad=grad, backward=backward, at=at, wrt=wrt, jacobian=jacobian
        )
    except GradcheckError as error:
        report = Report([failed(function, error)])
    else:
        report = Report([check_code(problem, settings)])
    emit(report, fmt, no_color)
    sys.exit(report.exit_code)
