"""The symbolic lowering: SymPy over scalar entries, the ground truth.

The program is expanded into one SymPy expression over the scalar entries of the inputs
(``W[0,1]`` is a symbol). Its gradient is then taken by SymPy's own derivative rules
(``fdiff`` for every function), accumulated in reverse over the expression's DAG, so the
work grows with the size of the expression rather than with inputs times size, as
``diff`` per entry would. The result is a *tape* (see ``tape.py``), which mpmath
evaluates at 30 digits and which is cached on disk.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping
from fractions import Fraction

import numpy as np

from gradcheck.deadline import OverBudget, budget
from gradcheck.engine import cache
from gradcheck.engine.graph import Program, describe
from gradcheck.engine.ops import OPS
from gradcheck.engine.tape import OPERATIONS, TAPE_FORMAT, Tape, load, run, store
from gradcheck.errors import GradcheckError

#: Above this many scalar operations in the expanded expression, symbolic is skipped.
SIZE_LIMIT = 5_000

#: An exact constant of more decimal digits than this is never built: SymPy would work on
#: 10**10**10 (ten billion digits) until memory ran out. Such a constant is taken as the
#: graph's float64 value for it; if that is not finite, there is no symbolic derivative.
EXACT_DIGITS = 10_000

#: Bumped when lowering changes what a tape computes, so older cached tapes are not reused.
LOWERING = 2


class SymbolicUnavailable(Exception):
    """The symbolic derivative cannot be had here (too large, or not evaluable)."""


# ---------------------------------------------------------------- size


def expanded_size(program: Program) -> int:
    """An estimate of the number of scalar operations in the expanded expression: each
    op's own estimate (``Op.expanded_cost``: a product's multiply-adds, nothing for ops
    that only rearrange entries, one per entry for the rest)."""
    total = 0
    for node in program.nodes:
        if node.op not in ("input", "const"):
            shapes = (a.shape for a in node.args)
            total += OPS[node.op].expanded_cost(node.shape, *shapes, **node.kwargs)
    return total


# ---------------------------------------------------------------- exact constants


def exact_digits(program: Program) -> list[float]:
    """For each node that depends on no input, about how many decimal digits its exact
    value has (log10 of numerator plus denominator); 0 for the others. Worked out in
    float64, so 10**10**10 costs nothing: its estimate is 1e10 (inf for a taller tower)."""
    constant = _constant_nodes(program)
    digits = [0.0] * len(program.nodes)
    with np.errstate(all="ignore"):
        for i, (node, args) in enumerate(zip(program.nodes, program.args)):
            if not constant[i] or node.op == "input":
                continue
            if node.op == "const":
                named = node.term is not None and node.term.name in ("pi", "e")
                digits[i] = 1.0 if named else _literal_digits(node.value)
            elif node.op == "pow":
                base, exponent = args
                power = float(np.max(np.abs(_float_value(program.nodes[exponent])), initial=0))
                trivial = np.all(np.isin(np.abs(_float_value(program.nodes[base])), (0.0, 1.0)))
                grown = 1.0 if trivial else digits[base] * max(power, 1.0)
                digits[i] = grown + digits[exponent]
            else:  # rational arithmetic adds digits; a reduction adds those of every entry
                entries = (
                    1 if OPS[node.op].elementwise else math.prod(program.nodes[j].shape)
                    for j in args
                )
                digits[i] = sum(digits[j] * n for j, n in zip(args, entries))
    return digits


def constant_notes(program: Program) -> list[str]:
    """A note for each constant taken as its float64 value because exactly it would be
    astronomical (see ``EXACT_DIGITS``); empty for almost every program."""
    return [
        f"the constant {describe(program.nodes[i])} is taken as its float64 value "
        f"{_shown(value)}: exactly it would have {_about(digits)} digits"
        for i, digits, value in _folded(program)
    ]


def _folded(program: Program) -> list[tuple[int, float, np.ndarray]]:
    """(node, estimated digits, float64 value) for each outermost constant whose exact
    value has more than ``EXACT_DIGITS`` digits somewhere inside it.

    Raises:
        SymbolicUnavailable: such a constant is not finite in float64 either.
    """
    digits, big = exact_digits(program), _too_big(program)
    constant = _constant_nodes(program)
    users_all_constant = [True] * len(program.nodes)
    for i, args in enumerate(program.args):
        for j in args:
            users_all_constant[j] &= constant[i]
    out = []
    for i in range(len(program.nodes)):
        if big[i] and (i == program.output or not users_all_constant[i]):
            value = _float_value(program.nodes[i])
            if not np.all(np.isfinite(value)):
                raise SymbolicUnavailable(
                    f"the constant {describe(program.nodes[i])} would have {_about(digits[i])} "
                    f"digits exactly, and in float64 it is {_shown(value)}"
                )
            out.append((i, digits[i], value))
    return out


def _too_big(program: Program) -> list[bool]:
    """Which constant nodes are, or hold, a constant of more than ``EXACT_DIGITS`` digits."""
    digits, constant = exact_digits(program), _constant_nodes(program)
    big: list[bool] = []
    for i, args in enumerate(program.args):
        big.append(constant[i] and (digits[i] > EXACT_DIGITS or any(big[j] for j in args)))
    return big


def _constant_nodes(program: Program) -> list[bool]:
    """Which nodes depend on no input (inputs used as indices count as inputs)."""
    constant: list[bool] = []
    for node, args in zip(program.nodes, program.args):
        constant.append(node.op != "input" and all(constant[j] for j in args))
    return constant


def _literal_digits(value: np.ndarray) -> float:
    """Digits of the exact form of written numbers, as ``_exact`` makes it (log10 of
    numerator and denominator; 10**k counts k), the largest over the entries: 1.0001 is
    10001/10000, 8 digits; 1e-300 is 1/10**300, 300."""
    finite = np.unique(np.abs(value[np.isfinite(value)]))
    return max((_fraction_digits(Fraction(repr(float(v)))) for v in finite if v), default=0.0)


def _fraction_digits(q: Fraction) -> float:
    return math.log10(q.numerator) + math.log10(q.denominator)


def _float_value(node) -> np.ndarray:
    """A constant node's value as the graph computes it (inf for a tower, NaN if none)."""
    try:
        return Program(node).value({})[0]
    except GradcheckError:  # no value (log(-1)): the graph says so, better than we can
        return np.full(node.shape, np.nan)


def _about(digits: float) -> str:
    return f"about {digits:.3g}" if math.isfinite(digits) else "more than 1e308"


def _shown(value: np.ndarray) -> str:
    return repr(float(value)) if value.size == 1 else f"an array of {value.size} entries"


# ---------------------------------------------------------------- lowering


def symbol_names(program: Program) -> dict[str, np.ndarray]:
    """The name of each input entry's symbol: ``w1``, ``x[2]``, ``W[0,1]``."""
    names = {}
    for name, shape in program.shapes.items():
        entries = np.empty(shape, dtype=object)
        for index in np.ndindex(shape):
            entries[index] = name + ("[" + ",".join(map(str, index)) + "]" if index else "")
        names[name] = entries
    return names


def lower(
    program: Program, index_values: Mapping[str, int] | None = None, *, evaluate: bool = True
):
    """The (scalar) program as one SymPy expression, and each input's array of symbols.

    Inputs used as indices take their (integer) values instead of symbols. With
    ``evaluate=False`` SymPy keeps the expression as written, without putting each sum
    and product into canonical order: much faster, and all a tape needs.

    Raises:
        SymbolicUnavailable: above the size limit.
    """
    entries, symbols = lower_array(program, index_values, evaluate=evaluate)
    return _scalar(entries), symbols


def lower_array(
    program: Program, index_values: Mapping[str, int] | None = None, *, evaluate: bool = True
):
    """The program's output as an array of SymPy expressions, and the inputs' symbols."""
    import sympy as sp

    with sp.evaluate(evaluate):
        return _lower_array(sp, program, index_values)


def _lower_array(sp, program: Program, index_values: Mapping[str, int] | None):
    size = expanded_size(program)
    if size > SIZE_LIMIT:
        raise SymbolicUnavailable(
            f"the expanded expression has about {size:,} operations (limit {SIZE_LIMIT:,})"
        )
    index_values = dict(index_values or {})
    folded = {i: value for i, _, value in _folded(program)}
    big = _too_big(program)
    symbols = {}
    for name, entries in symbol_names(program).items():
        symbols[name] = np.frompyfunc(lambda n: sp.Symbol(n, real=True), 1, 1)(entries)
    values: list = []
    for i, (node, args) in enumerate(zip(program.nodes, program.args)):
        if i in folded:
            values.append(_objects(np.frompyfunc(_exact, 1, 1)(folded[i])))
        elif big[i]:
            values.append(None)  # inside a folded constant: never built exactly
        else:
            values.append(_lower_node(sp, node, [values[j] for j in args], symbols, index_values))
    return values[program.output], {
        name: _objects(s) for name, s in symbols.items() if name not in index_values
    }


def _lower_node(sp, node, args, symbols, index_values) -> np.ndarray:
    if node.op == "input":
        if node.name in index_values:  # integer labels: an int, or an array of them
            labels = np.asarray(index_values[node.name])
            return _objects(np.frompyfunc(lambda v: sp.Integer(int(v)), 1, 1)(labels))
        return _objects(symbols[node.name])
    if node.op == "const":
        if node.term is not None and node.term.name in ("pi", "e"):
            return _objects(sp.pi if node.term.name == "pi" else sp.E)
        return _objects(np.frompyfunc(_exact, 1, 1)(node.value))
    op = OPS[node.op]
    if op.elementwise:
        return _objects(np.frompyfunc(lambda *a: op.sympy(sp, *a), len(args), 1)(*args))
    return _objects(op.sympy(sp, *args, **node.kwargs))


def _exact(value: float):
    """A literal as the user wrote it: 0.1 is 1/10 (the shortest repr round-trips)."""
    import sympy as sp

    return sp.Integer(int(value)) if float(value).is_integer() else sp.Rational(repr(float(value)))


def _objects(value) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value.astype(object)
    out = np.empty((), dtype=object)
    out[()] = value
    return out


def _scalar(value: np.ndarray):
    return value[()] if value.shape == () else value.reshape(-1)[0]


# ---------------------------------------------------------------- the tape


def build_tape(expr, symbols: Mapping[str, np.ndarray], wrt) -> Tape:
    """Differentiate ``expr`` (one SymPy expression, or an array of them: the output's
    entries) in reverse over its DAG, with SymPy's local derivatives; one reverse sweep
    per output entry, all sharing the forward slots."""
    builder = _TapeBuilder(symbols)
    entries = np.asarray(expr, dtype=object).reshape(-1)
    values = tuple(builder.emit(entry) for entry in entries)
    grads: dict[str, list[int]] = {name: [] for name in wrt}
    seed = builder.const("1")
    for value in values:
        adjoints = _reverse(builder, value, seed)
        for name in wrt:
            grads[name].extend(
                builder.total(adjoints[s], seed) if s in adjoints else -1
                for s in (builder.slot_of[sym] for sym in symbols[name].flat)
            )
    return Tape(
        tuple(builder.inputs), tuple(builder.code), values, {n: tuple(g) for n, g in grads.items()}
    )


def _reverse(builder: _TapeBuilder, value: int, seed: int) -> dict[int, list[int]]:
    """Every slot's adjoint contributions, by reverse accumulation from ``value``."""
    adjoints: dict[int, list[int]] = {value: []}
    for slot, node in reversed(builder.exprs):  # users before what they use
        if slot not in adjoints or node.is_Atom:
            continue
        adjoint = builder.total(adjoints.pop(slot), seed)
        adjoints[slot] = [adjoint]  # settled: kept for the input lookup
        for child, local in builder.local_derivatives(slot, node):
            if local is None:  # d/dchild is 1 (sums)
                adjoints.setdefault(child, []).append(adjoint)
            else:
                adjoints.setdefault(child, []).append(builder.step("mul", adjoint, local))
    return adjoints


class _TapeBuilder:
    """Emits SymPy expressions as tape steps, one slot per distinct subexpression."""

    def __init__(self, symbols: Mapping[str, np.ndarray]) -> None:
        import sympy as sp

        self.sp = sp
        self.inputs: list[tuple[str, int]] = []
        self.slot_of: dict = {}
        for name, syms in symbols.items():
            for k, sym in enumerate(syms.flat):
                self.slot_of[sym] = len(self.inputs)
                self.inputs.append((name, k))
        self.first = len(self.inputs)
        self.code: list[tuple] = []
        self.exprs: list = []  # (slot, SymPy expression) for each step of the function
        self.varying = [True] * self.first
        self.constants: dict[str, int] = {}

    def step(self, op: str, *args: int) -> int:
        self.code.append((op, *args))
        self.varying.append(any(self.varying[a] for a in args))
        return self.first + len(self.code) - 1

    def const(self, text: str) -> int:
        if text not in self.constants:
            self.code.append(("const", text))
            self.varying.append(False)
            self.constants[text] = self.first + len(self.code) - 1
        return self.constants[text]

    def total(self, slots: list[int], seed: int) -> int:
        if not slots:
            return seed
        return slots[0] if len(slots) == 1 else self.step("add", *slots)

    def emit(self, expr) -> int:
        """Slots for the function's expression and its subexpressions, shared where equal."""
        for node in _post_order(expr, self.slot_of):
            self.slot_of[node] = self._one(node, self.slot_of)
            self.exprs.append((self.slot_of[node], node))
        return self.slot_of[expr]

    def emit_bound(self, formula, bound: dict) -> int:
        """Slots for a derivative formula whose dummies are bound to existing slots."""
        memo = dict(bound)
        for node in _post_order(formula, memo):
            memo[node] = self._one(node, memo)
        return memo[formula]

    def _one(self, node, slots) -> int:
        sp = self.sp
        if node.is_Number or node.is_NumberSymbol:
            if not node.is_finite:
                raise SymbolicUnavailable(f"the expression contains {node}")
            return self.const(
                "pi" if node is sp.pi else "E" if node is sp.E else _number_text(node)
            )
        if node.is_Symbol:
            raise SymbolicUnavailable(f"unexpected symbol {node}")
        return self.step(_step_name(node), *(slots[a] for a in node.args))

    def local_derivatives(self, slot: int, node):
        """(child slot, slot of d node / d child, or None for 1) for each varying child."""
        sp = self.sp
        args = node.args
        out = []
        for i, arg in enumerate(args):
            child = self.slot_of[arg]
            if not self.varying[child]:
                continue
            if isinstance(node, sp.Add):
                out.append((child, None))
            elif isinstance(node, sp.Mul):
                others = [self.slot_of[a] for j, a in enumerate(args) if j != i]
                out.append((child, others[0] if len(others) == 1 else self.step("mul", *others)))
            else:
                formula, dummies, itself = _partial(type(node), len(args), i)
                bound = {d: self.slot_of[a] for d, a in zip(dummies, args)}
                bound[itself] = slot  # tanh's derivative reuses tanh's value, and so on
                out.append((child, self.emit_bound(formula, bound)))
        return out


def _post_order(expr, done) -> list:
    """Subexpressions of expr not in ``done``, arguments first (iterative: deep trees)."""
    order, seen = [], set()
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in done or node in seen:
            continue
        if ready:
            seen.add(node)
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((a, False) for a in reversed(node.args) if a not in done)
    return order


@functools.cache
def _partial(func, nargs: int, i: int):
    """d func(a0, a1, ...) / d(a_i) over real dummies, worked out once per kind of function.

    Returns the formula, the dummies, and func(dummies) itself (so the formula can reuse
    the node's own value). Pow takes the textbook rules, which stay finite at a zero
    base; every other function takes SymPy's own derivative.
    """
    import sympy as sp

    dummies = tuple(sp.Dummy(f"a{k}", real=True) for k in range(nargs))
    itself = func(*dummies)
    if func is sp.Pow:
        base, exponent = dummies
        formula = exponent * base ** (exponent - 1) if i == 0 else itself * sp.log(base)
    else:
        formula = itself.diff(dummies[i])
    if formula.has(sp.Derivative):
        raise SymbolicUnavailable(f"SymPy has no derivative rule for {func.__name__}")
    return formula, dummies, itself


def _step_name(node) -> str:
    name = type(node).__name__
    name = {"Add": "add", "Mul": "mul", "Pow": "pow"}.get(name, name)
    if name not in OPERATIONS:
        raise SymbolicUnavailable(f"cannot evaluate the SymPy function {name}")
    return name


def _number_text(number) -> str:
    if number.is_Rational:
        return f"{number.p}/{number.q}"
    return "mpf:" + ":".join(str(part) for part in number._mpf_)


def tape_for(
    program: Program,
    wrt,
    index_values: Mapping[str, int] | None = None,
    notes: list[str] | None = None,
) -> Tape:
    """The gradient tape for ``wrt``, from the cache when it is there.

    ``notes`` (when given) receives what the user should know about how the tape was
    built: astronomical constants taken as their float64 values.

    Raises:
        SymbolicUnavailable: above the size limit, or not evaluable.
    """
    if notes is not None:
        notes.extend(constant_notes(program))
    index_values = dict(index_values or {})
    key = cache.key(
        TAPE_FORMAT,
        LOWERING,
        program.fingerprint(),
        sorted(wrt),
        sorted((n, np.asarray(v).tolist()) for n, v in index_values.items()),
    )
    tape = load(key)
    if tape is None:
        entries, symbols = lower_array(program, index_values, evaluate=False)
        tape = build_tape(entries, symbols, wrt)
        store(key, tape)
    return tape


def values_tape(program: Program, index_values: Mapping[str, int] | None = None) -> Tape:
    """A tape of the program's output entries themselves, under ``grads["value"]`` (a
    claimed formula, to be evaluated beyond float64 by ``evaluate_exact``).

    Raises:
        SymbolicUnavailable: above the size limit, or not evaluable.
    """
    entries, symbols = lower_array(program, index_values, evaluate=False)
    builder = _TapeBuilder(symbols)
    slots = tuple(builder.emit(entry) for entry in entries.flat)
    return Tape(tuple(builder.inputs), tuple(builder.code), slots, {"value": slots})


def evaluate_exact(tape: Tape, point: Mapping[str, np.ndarray], digits: int) -> dict:
    """Each ``grads`` entry of the tape at ``digits`` digits, as mpmath numbers (NaN where
    it has no real value): ``evaluate`` without the rounding to float64 at the end."""
    import mpmath

    slots = run(tape, point, digits)
    zero = mpmath.mpf(0)
    return {
        name: [slots[s] if s >= 0 else zero for s in entries]
        for name, entries in tape.grads.items()
    }


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
