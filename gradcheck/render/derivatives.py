"""``gradcheck diff``'s derivatives shown: a table of formulas, or LaTeX lines."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gradcheck.render.safe import escaped, printable


def derivative_latex(rows) -> list[str]:
    """One LaTeX line per entry, unwrapped, ready to paste into a write-up."""
    return [
        f"\\frac{{\\partial f}}{{\\partial {label}}} = {formula}" for _, _, label, formula in rows
    ]


def derivative_view(expression: str, rows) -> RenderableType:
    """``d/dw1 = ...`` for each entry (``gradcheck diff``)."""
    expression, rows = printable(expression), escaped(rows)
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), show_header=False)
    table.add_column(no_wrap=True, style="bold")
    table.add_column()
    for _, _, label, formula in rows:
        table.add_row(Text(f"d/d{label} ="), Text(formula))
    return Group(Text.assemble(("f = ", "dim"), expression), Padding(table, (1, 0, 0, 0)))
