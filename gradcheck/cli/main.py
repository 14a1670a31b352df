"""The ``gradcheck`` group: every command under it, and the one place errors become
messages and exit codes.

Bad input (a ``GradcheckError`` raised anywhere below) is one line and exit code 2; so is
exhausted memory; a bug of ours is one line too, never a traceback.
"""

from __future__ import annotations

import os

import click

from gradcheck.cli.check import check_command
from gradcheck.cli.diff import diff_command
from gradcheck.cli.eval import eval_command
from gradcheck.cli.func import func_command
from gradcheck.cli.sweep import sweep_command
from gradcheck.cli.trace import trace_command
from gradcheck.errors import GradcheckError
from gradcheck.render.safe import printable
from gradcheck.version import __version__


class Gradcheck(click.Group):
    """The group that translates errors, once for every command."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except GradcheckError as error:
            reason = str(error) if error.message else "could not be checked, for no reason given"
            _fail(ctx, reason, error.exit_code)
        except MemoryError:
            command = f"gradcheck {ctx.invoked_subcommand or ''}".strip()
            _fail(ctx, f"out of memory while running {command}; try smaller inputs")
        except Exception as exc:  # a bug of ours: one line (GRADCHECK_DEBUG=1 shows it)
            if os.environ.get("GRADCHECK_DEBUG"):
                raise
            _fail(
                ctx,
                f"internal error ({type(exc).__name__}: {exc}); please report it, "
                "with the command that led to it",
            )


def _fail(ctx: click.Context, message: str, code: int = 2):
    click.echo(f"error: {printable(message)}", err=True)
    ctx.exit(code)


@click.group(cls=Gradcheck, context_settings={"help_option_names": ["-h", "--help"]})
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
      gradcheck func layers.py:affine_forward --backward layers.py:affine_backward --at ...
      gradcheck check problems/
      gradcheck trace problems/seed-004-network-0.yaml --jacobians
    """


for command in (
    eval_command,
    func_command,
    check_command,
    sweep_command,
    diff_command,
    trace_command,
):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
