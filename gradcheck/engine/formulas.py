"""The symbolic derivatives as formulas, for people (``gradcheck diff``) and for
judging claimed formulas: SymPy's derivative of each output entry by each input entry,
simplified within a time budget.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from gradcheck.deadline import OverBudget, budget
from gradcheck.engine.constants import constant_notes
from gradcheck.engine.graph import Program
from gradcheck.engine.symbolic import _scalar, lower_array

# ---------------------------------------------------------------- formulas


def formulas(
    program: Program,
    wrt,
    index_values: Mapping[str, int] | None = None,
    simplify: bool = True,
    notes: list[str] | None = None,
):
    """Each gradient entry as a SymPy formula (for display and for judging claims).

    With ``simplify``, small formulas are simplified within a time budget (see
    ``_Simplifier``); ``notes`` (when given) hears about those that were not.
    """
    import sympy as sp

    entries, symbols = lower_array(program, index_values)
    tidy = _Simplifier(sp) if simplify else None
    out = {}
    for name in wrt:  # shape: the output's, then the input's (a gradient, or a Jacobian)
        derivs = np.empty(entries.shape + symbols[name].shape, dtype=object)
        for at, entry in np.ndenumerate(entries):
            for index, symbol in np.ndenumerate(symbols[name]):
                derivative = sp.diff(entry, symbol)
                derivs[at + index] = derivative if tidy is None else tidy(derivative)
        out[name] = derivs
    expr = _scalar(entries) if entries.shape == () else entries
    if tidy is not None and notes is not None:
        notes.extend(tidy.notes())
    return expr, symbols, out


#: simplify() must shorten a formula by this factor to be preferred: a rewrite into
#: double angles that saves nothing only moves it away from how a student writes it.
SIMPLER = 0.6
#: simplify() is tried on formulas of at most this many operations (the ones it shortens
#: are small: sigmoid's derivative, a quotient that cancels); on larger ones it takes
#: seconds each and seldom wins.
SIMPLIFY_OPS = 40
#: Seconds simplify() may take on one formula, and on all of a table's formulas together.
FORMULA_SECONDS = 1.0
TABLE_SECONDS = 2.0
#: Seconds factor_terms() may take on one formula once the table's budget is spent.
FACTOR_SECONDS = 0.1


class _Simplifier:
    """Simplifies formula after formula within a budget; the rest keep their differentiated
    form, with common factors pulled out. Formulas that differ only in the names of their
    symbols (d/dW[0,1] and d/dW[1,1] of a layer) are simplified once."""

    def __init__(self, sp) -> None:
        self.sp = sp
        self.deadline = time.monotonic() + TABLE_SECONDS
        self.tried = self.skipped = 0
        self.known: dict = {}

    def __call__(self, expr):
        sp = self.sp
        self.tried += 1
        size = sp.count_ops(expr)
        if size <= SIMPLIFY_OPS:
            canonical, back = _canonical(sp, expr)
            if canonical not in self.known:
                self.known[canonical] = self._simplified(canonical, size)
            if self.known[canonical] is not None:
                return self.known[canonical].xreplace(back)
        self.skipped += 1
        spent = time.monotonic() >= self.deadline  # then only a glance at each
        return _factored(sp, expr, size, FACTOR_SECONDS if spent else FORMULA_SECONDS)

    def _simplified(self, expr, size: int):
        """simplify(expr) when it is clearly shorter; expr when not; None over budget."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            with budget(min(FORMULA_SECONDS, left)):
                simpler = self.sp.simplify(expr)
        except OverBudget:
            return None
        return simpler if self.sp.count_ops(simpler) <= SIMPLER * size else expr

    def notes(self) -> list[str]:
        if not self.skipped:
            return []
        return [
            f"{self.skipped} of {self.tried} formulas are shown as differentiated, with common "
            f"factors pulled out, not simplified: simplification is tried on formulas of at "
            f"most {SIMPLIFY_OPS} operations, for {FORMULA_SECONDS:g} s each and "
            f"{TABLE_SECONDS:g} s in all"
        ]


def _canonical(sp, expr):
    """expr with its symbols renamed in order (c0, c1, ... by name), and the way back."""
    ordered = sorted(expr.free_symbols, key=lambda s: s.name)
    there = {s: sp.Symbol(f"c{k}", real=True) for k, s in enumerate(ordered)}
    return expr.xreplace(there), {c: s for s, c in there.items()}


def _factored(sp, expr, size: int, seconds: float):
    """Common factors pulled out of sums (cheap), when that shortens the formula."""
    try:
        with budget(seconds):
            factored = sp.factor_terms(expr, sign=False)
    except OverBudget:
        return expr
    return factored if sp.count_ops(factored) < size else expr


def derivative_table(
    program: Program, wrt, latex: bool = False, notes: list[str] | None = None
) -> list[tuple[str, tuple, str, str]]:
    """(input, index, entry label, formula) for every entry of every input in ``wrt``.

    With ``latex`` the label and formula are LaTeX (``W_{0,1}``), else plain text.
    ``notes`` (when given) receives what the user should know: formulas left
    unsimplified, astronomical constants taken as float64 values.
    """
    import sympy as sp

    if notes is not None:
        notes.extend(constant_notes(program))
    _, symbols, derivs = formulas(program, wrt, notes=notes)
    names = {s: _latex_name(s.name) for entries in symbols.values() for s in entries.flat}
    outputs = program.root.shape
    rows = []
    for name in wrt:
        for index in np.ndindex(derivs[name].shape):
            formula = derivs[name][index]
            symbol = symbols[name][index[len(outputs) :]]
            label = names[symbol] if latex else symbol.name
            if outputs:  # a Jacobian entry: which output, by which input entry
                at = ",".join(map(str, index[: len(outputs)]))
                label = f"{label} \\text{{ of }} f_{{{at}}}" if latex else f"{label} of f[{at}]"
            text = sp.latex(formula, symbol_names=names) if latex else sp.sstr(formula)
            rows.append((name, index, label, text))
    return rows


def _latex_name(name: str) -> str:
    """``W[0,1]`` -> ``W_{0,1}``; ``w1`` -> ``w_{1}`` (SymPy's own style for digits)."""
    import sympy as sp

    base, _, index = name.partition("[")
    head = sp.latex(sp.Symbol(base))
    return f"{head}_{{{index.rstrip(']')}}}" if index else head
