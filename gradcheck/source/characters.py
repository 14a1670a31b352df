"""The characters a name may hold: ASCII, or Greek letters.

Python would quietly accept more: ``x·y`` is one identifier to it, and it folds a
full-width ``ｘ`` into ``x`` (NFKC). A paste from a textbook or a PDF brings such
characters in, so each is refused with its column and what to write instead.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from gradcheck.errors import ExpressionError

if TYPE_CHECKING:
    from gradcheck.source.parse import Source


#: Look-alikes of operators that a paste from a textbook or a PDF brings in.
_LOOKALIKES = {"·": "*", "×": "*", "∗": "*", "⋅": "*", "−": "-", "–": "-", "÷": "/", "²": "**2"}


def allowed(char: str) -> bool:
    """ASCII, or a Greek letter (a name like θ or σ is fair in maths)."""
    return char.isascii() or "\u0370" <= char <= "\u03ff"


def check_characters(source: Source) -> None:
    """Refuse characters Python would quietly accept: ``x·y`` would be one name and a
    full-width ``ｘ`` would silently become ``x``."""
    for column, char in enumerate(source.text):
        if allowed(char):
            continue
        hint = _LOOKALIKES.get(char)
        if hint is None and unicodedata.normalize("NFKC", char).isascii():
            hint = unicodedata.normalize("NFKC", char)
        code = f"U+{ord(char):04X}"
        instead = f"; write {hint!r} instead" if hint else ""
        raise source.error(
            ExpressionError,
            f"the character {char!r} ({code}) is not allowed: names are ASCII letters, "
            f"digits and _ (or Greek letters){instead}",
            column,
        )
