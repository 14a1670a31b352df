"""The symbolic lowering: SymPy over scalar entries, the ground truth.

The program is expanded into one SymPy expression over the scalar entries of the inputs
(``W[0,1]`` is a symbol). Its gradient is then taken by SymPy's own derivative rules
(``fdiff`` for every function), accumulated in reverse over the expression's DAG, so the
work grows with the size of the expression rather than with inputs times size, as
``diff`` per entry would. The result is a *tape*: a straight-line program over a closed
vocabulary (add, mul, pow and SymPy's function names) that mpmath evaluates at 30 digits.

A tape is plain data, so it is cached on disk: a repeated check needs no SymPy import
(which alone costs about half a second).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .graph import Program
from .ops import OPS

#: Above this many scalar operations in the expanded expression, symbolic is skipped.
SIZE_LIMIT = 100_000

#: Working precision of the ground truth, in decimal digits.
DIGITS = 30

TAPE_FORMAT = 1


class SymbolicUnavailable(Exception):
    """The symbolic derivative cannot be had here (too large, or not evaluable)."""


@dataclass(frozen=True)
class Tape:
    """A straight-line program computing the value and every gradient entry.

    Slots ``0 .. len(inputs) - 1`` hold the input entries ``(name, flat index)``; each
    instruction ``(op, *argument slots)`` (or ``("const", text)``) fills the next slot.
    ``grads[name][k]`` is the slot of d value / d name[k], or -1 where it is zero.
    """

    inputs: tuple[tuple[str, int], ...]
    code: tuple[tuple, ...]
    value: int
    grads: dict[str, tuple[int, ...]]

    def to_json(self) -> str:
        return json.dumps({"format": TAPE_FORMAT, "inputs": self.inputs, "code": self.code,
                           "value": self.value, "grads": self.grads})

    @classmethod
    def from_json(cls, text: str) -> Tape:
        data = json.loads(text)
        if data.get("format") != TAPE_FORMAT:
            raise ValueError("old tape format")
        tape = cls(tuple((str(n), int(k)) for n, k in data["inputs"]),
                   tuple(tuple(step) for step in data["code"]), int(data["value"]),
                   {str(n): tuple(int(s) for s in slots) for n, slots in data["grads"].items()})
        tape.validate()
        return tape

    def validate(self) -> None:
        """Refuse a tape (say, a damaged cache file) that names unknown ops or slots."""
        slots = len(self.inputs)
        for step in self.code:
            if step[0] == "const":
                _constant(step[1])
            elif step[0] not in _MPMATH or not all(
                isinstance(a, int) and 0 <= a < slots for a in step[1:]
            ):
                raise ValueError(f"bad tape step {step!r}")
            slots += 1
        if not 0 <= self.value < slots or any(
            not -1 <= s < slots for grads in self.grads.values() for s in grads
        ):
            raise ValueError("bad tape output slot")


# ---------------------------------------------------------------- size


def expanded_size(program: Program) -> int:
    """An estimate of the number of scalar operations in the expanded expression."""
    total = 0
    for node in program.nodes:
        size = math.prod(node.shape)
        if node.op == "matmul":
            total += size * node.args[0].shape[-1]
        elif node.op in ("det", "inv"):
            n = node.args[0].shape[0]
            total += math.factorial(n) * n * (size if node.op == "inv" else 1)
        elif node.op not in ("input", "const"):
            total += max(size, *(math.prod(a.shape) for a in node.args))
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


def lower(program: Program, index_values: Mapping[str, int] | None = None):
    """The (scalar) program as one SymPy expression, and each input's array of symbols.

    Inputs used as indices take their (integer) values instead of symbols.

    Raises:
        SymbolicUnavailable: above the size limit.
    """
    entries, symbols = lower_array(program, index_values)
    return _scalar(entries), symbols


def lower_array(program: Program, index_values: Mapping[str, int] | None = None):
    """The program's output as an array of SymPy expressions, and the inputs' symbols."""
    import sympy as sp

    size = expanded_size(program)
    if size > SIZE_LIMIT:
        raise SymbolicUnavailable(f"the expanded expression has about {size:,} operations "
                                  f"(limit {SIZE_LIMIT:,})")
    index_values = dict(index_values or {})
    symbols = {}
    for name, entries in symbol_names(program).items():
        symbols[name] = np.frompyfunc(lambda n: sp.Symbol(n, real=True), 1, 1)(entries)
    values: list[np.ndarray] = []
    for node, args in zip(program.nodes, program.args):
        values.append(_lower_node(sp, node, [values[j] for j in args], symbols, index_values))
    return values[program.output], {
        name: _objects(s) for name, s in symbols.items() if name not in index_values
    }


def _lower_node(sp, node, args, symbols, index_values) -> np.ndarray:
    if node.op == "input":
        if node.name in index_values:
            return _objects(sp.Integer(index_values[node.name]))
        return _objects(symbols[node.name])
    if node.op == "const":
        if node.term is not None and node.term.name in ("pi", "e"):
            return _objects(sp.pi if node.term.name == "pi" else sp.E)
        return _objects(np.frompyfunc(_exact, 1, 1)(node.value))
    op = OPS[node.op]
    if op.elementwise:
        return _objects(np.frompyfunc(lambda *a: op.sympy(sp, *a), len(args), 1)(*args))
    return _objects(op.sympy(sp, *args))


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
    """Differentiate ``expr`` in reverse over its DAG, with SymPy's local derivatives."""
    builder = _TapeBuilder(symbols)
    value = builder.emit(expr)
    forward_steps = len(builder.code)
    adjoints: dict[int, list[int]] = {value: []}
    seed = builder.const("1")
    for slot in range(builder.first + forward_steps - 1, builder.first - 1, -1):
        if slot not in adjoints:
            continue
        adjoint = builder.total(adjoints.pop(slot), seed)
        adjoints[slot] = [adjoint]  # settled: kept for the input lookup below
        for child, local in builder.local_derivatives(slot):
            if local is None:  # d/dchild is 1 (sums)
                adjoints.setdefault(child, []).append(adjoint)
            else:
                adjoints.setdefault(child, []).append(builder.step("mul", adjoint, local))
    grads = {}
    for name in wrt:
        grads[name] = tuple(
            builder.total(adjoints[s], seed) if s in adjoints else -1
            for s in (builder.slot_of[sym] for sym in symbols[name].flat)
        )
    return Tape(tuple(builder.inputs), tuple(builder.code), value, grads)


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
        self.exprs: list = []  # the SymPy expression behind each emitted step
        self.varying = [True] * self.first

    def step(self, op: str, *args) -> int:
        self.code.append((op, *args))
        self.exprs.append(None)
        self.varying.append(True)
        return self.first + len(self.code) - 1

    def const(self, text: str) -> int:
        self.code.append(("const", text))
        self.exprs.append(None)
        self.varying.append(False)
        return self.first + len(self.code) - 1

    def total(self, slots: list[int], seed: int) -> int:
        if not slots:
            return seed
        return slots[0] if len(slots) == 1 else self.step("add", *slots)

    def emit(self, expr) -> int:
        """Slots for expr and every subexpression not yet emitted (post-order, iterative)."""
        stack = [(expr, False)]
        while stack:
            node, ready = stack.pop()
            if node in self.slot_of:
                continue
            if not ready:
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(node.args) if a not in self.slot_of)
                continue
            self.slot_of[node] = self._emit_one(node)
        return self.slot_of[expr]

    def _emit_one(self, node) -> int:
        sp = self.sp
        if node.is_Symbol:
            raise SymbolicUnavailable(f"unexpected symbol {node}")
        if node.is_Number or node.is_NumberSymbol:
            if not node.is_finite:
                raise SymbolicUnavailable(f"the expression contains {node}")
            text = "pi" if node is sp.pi else "E" if node is sp.E else _number_text(node)
            slot = self.const(text)
        else:
            name = _step_name(node)
            args = [self.slot_of[a] for a in node.args]
            self.code.append((name, *args))
            self.varying.append(any(self.varying[a] for a in args))
            slot = self.first + len(self.code) - 1
            self.exprs.append(None)
        self.exprs[slot - self.first] = node
        return slot

    def local_derivatives(self, slot: int):
        """(child slot, slot of d node / d child or None for 1) for each varying child."""
        node = self.exprs[slot - self.first]
        if node is None or node.is_Atom:
            return []
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
                out.append((child, self.emit(_partial(sp, node, i))))
        return out


def _partial(sp, node, i: int):
    """d node / d args[i], by SymPy: ``fdiff`` where it has one, else ``diff`` on a dummy."""
    base, exponent = (node.args if isinstance(node, sp.Pow) else (None, None))
    if base is not None:  # the textbook rules, kept finite at a zero base
        return exponent * base ** (exponent - 1) if i == 0 else node * sp.log(base)
    derivative = node.fdiff(i + 1)
    if derivative.has(sp.Derivative):
        dummy = sp.Dummy(real=True)
        args = list(node.args)
        args[i] = dummy
        derivative = node.func(*args).diff(dummy).xreplace({dummy: node.args[i]})
    if derivative.has(sp.Derivative):
        raise SymbolicUnavailable(f"SymPy has no derivative rule for {node.func.__name__}")
    return derivative


def _step_name(node) -> str:
    name = type(node).__name__
    name = {"Add": "add", "Mul": "mul", "Pow": "pow"}.get(name, name)
    if name not in _MPMATH:
        raise SymbolicUnavailable(f"cannot evaluate the SymPy function {name}")
    return name


def _number_text(number) -> str:
    if number.is_Rational:
        return f"{number.p}/{number.q}"
    return "mpf:" + ":".join(str(part) for part in number._mpf_)


# ---------------------------------------------------------------- evaluation


def _heaviside(x, at_zero=None):
    import mpmath

    if x == 0:
        return mpmath.mpf(0.5) if at_zero is None else at_zero
    return mpmath.mpf(1 if x > 0 else 0)


def _dirac(x, *rest):
    import mpmath

    return mpmath.mpf(0) if x != 0 else mpmath.nan


def _mp(name):
    """Look up an mpmath function lazily, so this table costs nothing to import."""
    def call(*args):
        import mpmath

        return getattr(mpmath, name)(*args)
    return call


_MPMATH = {
    "add": lambda *a: _mp("fsum")(a),
    "mul": lambda *a: _mp("fprod")(a),
    "pow": _mp("power"),
    **{f: _mp(f) for f in ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
                           "tanh", "exp", "log", "erf", "sign")},
    "Abs": _mp("fabs"),
    "Max": lambda *a: max(a),
    "Min": lambda *a: min(a),
    "Heaviside": _heaviside,
    "DiracDelta": _dirac,
}


def _constant(text: str):
    import mpmath

    if text == "pi":
        return +mpmath.pi
    if text == "E":
        return +mpmath.e
    if text.startswith("mpf:"):
        sign, man, exp, bc = (int(p) for p in text[4:].split(":"))
        return mpmath.mpf((sign, man, exp, bc))
    p, _, q = text.partition("/")
    return mpmath.mpf(int(p)) / int(q or 1)


def evaluate(tape: Tape, point: Mapping[str, np.ndarray]):
    """The value and gradients at one point, to ``DIGITS`` digits, as Python floats.

    ``point`` maps input names to arrays of their shape. Entries whose derivative is not
    defined there (or not real) are NaN; a value that is not real raises ValueError.
    """
    import mpmath

    with mpmath.workdps(DIGITS):
        slots: list = [mpmath.mpf(float(np.asarray(point[name]).reshape(-1)[k]))
                       for name, k in tape.inputs]
        for step in tape.code:
            if step[0] == "const":
                slots.append(_constant(step[1]))
                continue
            try:
                result = _MPMATH[step[0]](*(slots[a] for a in step[1:]))
            except (ValueError, ZeroDivisionError, OverflowError):
                result = mpmath.nan
            slots.append(result if isinstance(result, mpmath.mpf) else mpmath.nan)
        value = _real(slots[tape.value])
        if not math.isfinite(value):
            raise ValueError("the symbolic value is not finite or not real at the point")
        grads = {name: np.array([_real(slots[s]) if s >= 0 else 0.0 for s in entries])
                 for name, entries in tape.grads.items()}
    return value, grads


def _real(number) -> float:
    try:
        return float(number)
    except (TypeError, ValueError):
        return math.nan


# ---------------------------------------------------------------- cache


def cache_dir() -> Path | None:
    """Where tapes are kept: $GRADCHECK_CACHE_DIR, else $XDG_CACHE_HOME/gradcheck.

    ``GRADCHECK_NO_CACHE=1`` turns the cache off.
    """
    if os.environ.get("GRADCHECK_NO_CACHE"):
        return None
    if os.environ.get("GRADCHECK_CACHE_DIR"):
        return Path(os.environ["GRADCHECK_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gradcheck"


def tape_for(program: Program, wrt, index_values: Mapping[str, int] | None = None) -> Tape:
    """The gradient tape for ``wrt``, from the cache when it is there.

    Raises:
        SymbolicUnavailable: above the size limit, or not evaluable.
    """
    import hashlib

    index_values = dict(index_values or {})
    key = hashlib.sha256(repr((__version__, TAPE_FORMAT, program.fingerprint(), sorted(wrt),
                               sorted(index_values.items()))).encode()).hexdigest()
    folder = cache_dir()
    path = folder / "tapes" / f"{key}.json" if folder else None
    if path is not None and path.is_file():
        try:
            return Tape.from_json(path.read_text())
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged entry is rebuilt below
    expr, symbols = lower(program, index_values)
    tape = build_tape(expr, symbols, wrt)
    if path is not None:
        _write_atomically(path, tape.to_json())
    return tape


def _write_atomically(path: Path, text: str) -> None:
    """Concurrent workers may write the same entry; each write is whole or absent."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
            f.write(text)
        os.replace(f.name, path)
    except OSError:
        pass  # no cache, no harm: a read-only home still gets its answer


# ---------------------------------------------------------------- formulas


def formulas(program: Program, wrt, index_values: Mapping[str, int] | None = None,
             simplify: bool = True):
    """Each gradient entry as a SymPy formula (for display and for judging claims)."""
    import sympy as sp

    expr, symbols = lower(program, index_values)
    out = {}
    for name in wrt:
        derivs = np.frompyfunc(lambda s: _tidy(sp, sp.diff(expr, s), simplify), 1, 1)(symbols[name])
        out[name] = _objects(derivs)
    return expr, symbols, out


#: simplify() must shorten a formula by this factor to be preferred: a rewrite into
#: double angles that saves nothing only moves it away from how a student writes it.
SIMPLER = 0.6


def _tidy(sp, expr, simplify: bool):
    """Simplify small formulas when that clearly shortens them; a large one is left as is."""
    size = sp.count_ops(expr)
    if not simplify or size > 400:
        return expr
    simpler = sp.simplify(expr)
    return simpler if sp.count_ops(simpler) <= SIMPLER * size else expr


def derivative_table(program: Program, wrt, latex: bool = False) -> list[tuple[str, tuple, str, str]]:
    """(input, index, entry label, formula) for every entry of every input in ``wrt``.

    With ``latex`` the label and formula are LaTeX (``W_{0,1}``), else plain text.
    """
    import sympy as sp

    _, symbols, derivs = formulas(program, wrt)
    names = {s: _latex_name(s.name) for entries in symbols.values() for s in entries.flat}
    rows = []
    for name in wrt:
        for index, symbol in zip(np.ndindex(derivs[name].shape), symbols[name].flat):
            formula = derivs[name][index]
            if latex:
                rows.append((name, index, names[symbol], sp.latex(formula, symbol_names=names)))
            else:
                rows.append((name, index, symbol.name, sp.sstr(formula)))
    return rows


def _latex_name(name: str) -> str:
    """``W[0,1]`` -> ``W_{0,1}``; ``w1`` -> ``w_{1}`` (SymPy's own style for digits)."""
    import sympy as sp

    base, _, index = name.partition("[")
    head = sp.latex(sp.Symbol(base))
    return f"{head}_{{{index.rstrip(']')}}}" if index else head
