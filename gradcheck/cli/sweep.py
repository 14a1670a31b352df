"""``gradcheck sweep``: each estimator's error as the step h varies, for one entry."""

from __future__ import annotations

import json

import click

from gradcheck.cli.options import ExpressionCommand, OutputFile, common, steps
from gradcheck.limits import STEPS
from gradcheck.render.output import PICTURES


@click.command("sweep", cls=ExpressionCommand)
@click.argument("source", metavar="EXPR|FILE")
@click.option(
    "--wrt",
    metavar="NAME|NAME[i,j]",
    help="The entry to sweep [default: the first input; of an array, the entry "
    "with the largest gradient].",
)
@click.option(
    "--steps",
    callback=steps,
    default="1e-1:1e-13:25",
    show_default=True,
    metavar="LO:HI:N",
    help=f"N steps, evenly spaced in log, from LO to HI (N at most {STEPS.value:,}).",
)
@click.option(
    "--plot",
    type=OutputFile(PICTURES),
    metavar="FILE.png|svg|pdf",
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
    from gradcheck.source.select import one_problem
    from gradcheck.tools.sweep import parse_steps, sweep

    result = sweep(one_problem(source, at, lets, which), wrt, parse_steps(steps), seed)
    if fmt == "json":
        from gradcheck.render.json import sweep_json

        click.echo(json.dumps(sweep_json(result), indent=2))
    else:
        from gradcheck.render.console import make_console
        from gradcheck.render.sweep import sweep_view

        make_console(no_color).print(sweep_view(result))
    if plot:  # after the results are shown: a file that cannot be written loses nothing
        from gradcheck.render.plot import save_plot

        save_plot(result, plot)
