"""The console: the one place a rich Console is made (stdout, plain text, a progress bar),
and the colour of each status."""

from __future__ import annotations

import contextlib
import io
import os
import sys

from rich.console import Console, RenderableType

#: The style of each status, wherever a status is shown.
STYLE = {"pass": "green", "kink": "yellow", "fail": "bold red", "error": "bold red"}


def make_console(no_color: bool) -> Console:
    """A console for stdout; --no-color or NO_COLOR means plain text, no escapes at all."""
    plain = no_color or bool(os.environ.get("NO_COLOR"))
    wide = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120
    return Console(
        highlight=False, width=wide, soft_wrap=False, **({"color_system": None} if plain else {})
    )


def plain_text(renderable: RenderableType, width: int = 120) -> str:
    """A renderable as plain text (for JUnit files and logs)."""
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(renderable)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines())


@contextlib.contextmanager
def progress_bar(total: int, no_color: bool):
    """A transient progress bar on stderr; yields a function taking (done, total)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(stderr=True, **({"color_system": None} if no_color else {}))
    with Progress(
        "checking",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("check", total=total)
        yield lambda done, _total: progress.update(task, completed=done)


def html(report) -> str:
    """A report's table as HTML, for a notebook: the same view the terminal shows."""
    from gradcheck.render.tables import render

    console = Console(file=io.StringIO(), record=True, width=120, highlight=False)
    console.print(render(report))
    return console.export_html(inline_styles=True, code_format="<pre>{code}</pre>")
