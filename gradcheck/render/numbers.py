"""Numbers as people read them: agreeing digits, a common power of ten, arrays in one line.

No rich renderables but ``Text`` cells, and no printing.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
from rich.text import Text

#: Significant digits shown for an estimate (the reference is shown in full, and each
#: estimate's error is given exactly below it): enough to see where digits part, narrow
#: enough that a row of five estimates fits a 100-column terminal.
ESTIMATE_DIGITS = 10


def agreeing_digits(value: float, reference: float, status: str, exponent: int = 0) -> Text:
    """The estimate, its leading digits that agree with the reference plain, the rest marked."""
    text = number(value, ESTIMATE_DIGITS, exponent)
    if not (math.isfinite(value) and math.isfinite(reference)):
        return Text(text, style="red")
    ref_text = number(reference, ESTIMATE_DIGITS, exponent)
    same = 0
    for a, b in zip(text, ref_text):
        if a != b:
            break
        same += 1
    if same == len(text):
        return Text(text)
    tail_style = "red" if status in ("fail", "error") else "dim"
    return Text.assemble(text[:same], (text[same:], tail_style))


def common_exponent(values: list[float]) -> int:
    """A power of ten (a multiple of 3) to factor out of very small or large values, or 0.

    ``1.99e-06`` in every cell costs four columns a cell; ``(values ×1e-06)`` once does not.
    """
    finite = [abs(v) for v in values if math.isfinite(v) and v != 0]
    if not finite:
        return 0
    top = max(finite)
    if 1e-3 <= top < 1e6:
        return 0
    return 3 * math.floor(math.log10(top) / 3)


def _scaled(value: float, exponent: int) -> Decimal:
    """The shortest decimal of value, shifted by 10**-exponent without any rounding."""
    return Decimal(repr(value)).scaleb(-exponent)


def number(value, digits: int, exponent: int = 0) -> str:
    """``value`` to ``digits`` significant digits, in units of ``10**exponent``."""
    if value is None:
        return "—"
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    return f"{_scaled(value, exponent):.{digits}g}" if exponent else f"{value:.{digits}g}"


def exact(value, exponent: int = 0) -> str:
    """Every digit a float64 holds (repr round-trips): the reference is shown in full."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    return str(_scaled(value, exponent).normalize()) if exponent else repr(value)


def error_text(error: float) -> str:
    """``err 3.1e-11``; ``err 0``; ``err —`` where there is no finite error."""
    if not math.isfinite(error):
        return "err —"
    return "err 0" if error == 0 else f"err {error:.1e}"


def format_array(value: np.ndarray, digits: int = 6) -> str:
    """A value in one line: ``-3``, ``[1, 2]``, ``[[1, 2], [3, 4]]``, large ones summarised."""
    array = np.asarray(value, dtype=float)
    return array_summary(array) if array.size > 16 else _nested(array, digits)


def array_summary(array: np.ndarray) -> str:
    """``<20 x 20 array, |max| 3.1>``: an array too large to show."""
    return f"<{' x '.join(map(str, array.shape))} array, |max| {np.max(np.abs(array)):.3g}>"


def _nested(array: np.ndarray, digits: int) -> str:
    if array.ndim == 0:
        return f"{float(array):.{digits}g}"
    return "[" + ", ".join(_nested(a, digits) for a in array) + "]"


def entry(name: str, index) -> str:
    """``W[1, 0]``; a scalar's name alone."""
    return name + (f"[{', '.join(map(str, index))}]" if len(index) else "")
