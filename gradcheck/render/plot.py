"""A sweep drawn to a file: the only module that imports matplotlib."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradcheck.errors import GradcheckError
from gradcheck.render.output import PICTURES, writing
from gradcheck.render.safe import printable
from gradcheck.render.sweep import PLOT_FLOOR

COLOURS = {
    "forward": "tab:blue",
    "backward": "tab:cyan",
    "central": "tab:green",
    "complex": "tab:purple",
    "richardson": "tab:orange",
}


def save_plot(result, path: str) -> None:
    """The sweep as a log-log plot in a file (.png, .svg or .pdf), with matplotlib.

    Raises:
        GradcheckError: the suffix is not a picture, matplotlib is not installed, or the
            file cannot be written.
    """
    if Path(path).suffix.lower() not in PICTURES:
        raise GradcheckError(f"--plot {path}: the file must end in .png, .svg or .pdf")
    try:
        import matplotlib
    except ImportError:
        raise GradcheckError(
            "--plot needs matplotlib, which is not installed; install it "
            "with: pip install 'gradcheck[plot]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    try:
        for m, s in result.methods.items():
            if s.errors is None:
                continue
            axes.loglog(
                result.steps, np.maximum(s.errors, PLOT_FLOOR), "o-", ms=3, color=COLOURS[m],
                label=m,
            )  # fmt: skip
            if s.auto_step and s.auto_error is not None:
                axes.loglog(
                    [s.auto_step], [max(s.auto_error, PLOT_FLOOR)], "*", ms=12, color=COLOURS[m]
                )
        axes.set_xlabel("step h")
        axes.set_ylabel("relative error")
        title = f"d/d{result.entry} of {result.name}  (stars: automatic steps)"
        axes.set_title(printable(title).replace("$", r"\$"), fontsize=9)  # $ starts TeX
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8)
        figure.tight_layout()
        with writing("--plot", path):
            figure.savefig(path)
    finally:
        plt.close(figure)
