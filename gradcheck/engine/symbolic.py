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
from collections.abc import Mapping

import numpy as np

from gradcheck.engine import cache
from gradcheck.engine.constants import constant_notes, exact, folded, too_big
from gradcheck.engine.graph import Program
from gradcheck.engine.ops import OPS
from gradcheck.engine.tape import OPERATIONS, TAPE_FORMAT, Tape, load, run, store
from gradcheck.errors import SymbolicUnavailable

#: Above this many scalar operations in the expanded expression, symbolic is skipped.
SIZE_LIMIT = 5_000


#: Bumped when lowering changes what a tape computes, so older cached tapes are not reused.
LOWERING = 2


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


def within_size(program: Program) -> None:
    """Refuse, before SymPy is even imported, an expansion above the size limit.

    Raises:
        SymbolicUnavailable: saying how large it would be.
    """
    size = expanded_size(program)
    if size > SIZE_LIMIT:
        raise SymbolicUnavailable(
            f"the expanded expression has about {size:,} operations (limit {SIZE_LIMIT:,})"
        )


def _lower_array(sp, program: Program, index_values: Mapping[str, int] | None):
    within_size(program)
    index_values = dict(index_values or {})
    taken = {i: value for i, _, value in folded(program)}
    big = too_big(program)
    symbols = {}
    for name, entries in symbol_names(program).items():
        symbols[name] = np.frompyfunc(lambda n: sp.Symbol(n, real=True), 1, 1)(entries)
    values: list = []
    for i, (node, args) in enumerate(zip(program.nodes, program.args)):
        if i in taken:
            values.append(_objects(np.frompyfunc(exact, 1, 1)(taken[i])))
        elif big[i]:
            values.append(None)  # inside a taken constant: never built exactly
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
        return _objects(np.frompyfunc(exact, 1, 1)(node.value))
    op = OPS[node.op]
    if op.elementwise:
        return _objects(np.frompyfunc(lambda *a: op.sympy(sp, *a), len(args), 1)(*args))
    return _objects(op.sympy(sp, *args, **node.kwargs))


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
    within_size(program)  # a large problem never pays for importing SymPy
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
