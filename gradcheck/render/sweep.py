"""A sweep shown: the errors step by step, each method's best and automatic step, and the
V of truncation and round-off drawn in characters."""

from __future__ import annotations

import numpy as np
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gradcheck.render.numbers import error_text, format_array
from gradcheck.render.safe import escaped

#: One letter and colour per estimator, in the terminal plot and its legend.
MARKS = {
    "forward": ("f", "blue"),
    "backward": ("b", "cyan"),
    "central": ("c", "green"),
    "complex": ("i", "magenta"),
    "richardson": ("r", "yellow"),
}

#: Errors below this are drawn at it (a log scale has no 0).
PLOT_FLOOR = 1e-17


def sweep_view(result) -> RenderableType:
    """The errors step by step, the best and automatic step per method, and the plot."""
    result = escaped(result)
    parts: list[RenderableType] = [Text.assemble(("● ", "bold"), (result.name, "bold"))]
    at = ", ".join(f"{n} = {format_array(v)}" for n, v in result.at.items())
    parts.append(Text(f"  at  {at}", style="dim"))
    if result.drawn:
        parts.append(
            Text(f"      random (seed {result.seed}): {', '.join(result.drawn)}", style="dim")
        )
    parts.append(
        Text.assemble(
            "  d/d",
            (result.entry, "bold"),
            f" = {result.exact!r}",
            (f"  ({result.reference})", "dim"),
        )
    )
    methods = list(result.methods)
    table = Table(
        box=None,
        pad_edge=False,
        padding=(0, 2, 0, 0),
        header_style="bold",
        title="relative error against the exact derivative",
        title_justify="left",
        title_style="bold",
    )
    table.add_column("step h", no_wrap=True)
    for m in methods:
        table.add_column(Text(m, style=MARKS[m][1]), no_wrap=True, justify="right")
    best = {m: s.best_step for m, s in result.methods.items()}
    for j, h in enumerate(result.steps):
        cells = [f"{h:.1e}"]
        for m in methods:
            s = result.methods[m]
            if s.errors is None:
                cells.append(Text("—", style="dim"))
                continue
            style = "bold green" if best[m] == h else ""
            cells.append(Text(error_text(float(s.errors[j])).removeprefix("err "), style=style))
        table.add_row(*cells)
    parts.append(Padding(table, (1, 0, 1, 2), expand=False))
    parts.append(Padding(_sweep_summary(result), (0, 0, 1, 2), expand=False))
    parts.append(Padding(error_plot(result), (0, 0, 1, 2), expand=False))
    parts.extend(Text.assemble(("  note: ", "yellow"), n) for n in result.notes)
    return Group(*parts)


def _sweep_summary(result) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
    for column in ("method", "best step", "best error", "automatic step", "its error"):
        table.add_column(column, no_wrap=True)
    for m, s in result.methods.items():
        name = Text(m, style=MARKS[m][1])
        if s.errors is None:
            table.add_row(name, Text(f"does not apply: {s.reason}", style="dim"), "", "", "")
            continue
        table.add_row(
            name,
            f"{s.best_step:.1e}",
            f"{s.best_error:.1e}",
            "—" if s.auto_step is None else f"{s.auto_step:.2e}",
            "—" if s.auto_error is None else f"{s.auto_error:.1e}",
        )
    return table


def error_plot(result, width: int = 60, height: int = 15) -> Text:
    """The errors on log-log axes in characters: one letter per method, the V of
    truncation (right, large steps) and round-off (left, small steps); ^ marks where
    the automatic central step lands."""
    steps = np.log10(result.steps)
    left, right = float(steps.min()), float(steps.max())
    curves = {
        m: np.log10(np.maximum(s.errors, PLOT_FLOOR))
        for m, s in result.methods.items()
        if s.errors is not None
    }
    values = np.concatenate(list(curves.values())) if curves else np.array([0.0])
    bottom, top = np.floor(np.nanmin(values)), np.ceil(np.nanmax(values))
    top = bottom + 1 if top <= bottom else top
    grid = [[(" ", "") for _ in range(width)] for _ in range(height)]

    def column(x: float) -> int:
        return round((x - left) / (right - left) * (width - 1)) if right > left else 0

    drawing_order = ("complex", "richardson", "forward", "backward", "central")  # central on top
    for m in sorted(curves, key=drawing_order.index):
        ys = curves[m]
        letter, style = MARKS[m]
        for x, y in zip(steps, ys):
            if np.isfinite(y):
                row = round((top - y) / (top - bottom) * (height - 1))
                grid[row][column(x)] = (letter, style)
    text = Text()
    for r, cells in enumerate(grid):
        label = (
            f"1e{round(top - r * (top - bottom) / (height - 1)):+03d} |"
            if r % 3 == 0
            else "      |"
        )
        text.append(label, style="dim")
        for char, style in cells:
            text.append(char, style=style)
        text.append("\n")
    text.append("      +" + "-" * width + "\n", style="dim")
    marker = [" "] * width
    central = result.methods.get("central")
    if central is not None and central.auto_step:
        position = column(np.log10(central.auto_step))
        if 0 <= position < width:
            marker[position] = "^"
    text.append("       " + "".join(marker) + "\n", style="green")
    axis = f"       h = {10**left:.0e}" + " " * max(1, width - 26) + f"{10**right:.0e}\n"
    text.append(axis, style="dim")
    text.append("       " + "   ".join(f"{MARKS[m][0]} {m}" for m in curves), style="dim")
    return text
