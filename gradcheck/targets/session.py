"""The user's code at a point, inside the worker: one call, batches of calls, findings.

A ``Session`` holds the loaded code, the last point it was sent, and what it has learnt
(whether the code changes its inputs). Batches of points are evaluated on one set of
working copies, each entry set and restored around a call; should the code change its
inputs, the batch is redone on fresh copies, one per call, and so is every later one.
Complex-step batches are checked before they are trusted.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from gradcheck import limits
from gradcheck.errors import GradcheckError
from gradcheck.targets.base import ComplexStepRefused
from gradcheck.targets.conventions import (
    NO_CACHE,
    Call,
    Code,
    ReturnError,
    describe,
    is_real,
    order,
    read_grads,
)

#: What the worker is doing, shared with the parent so that a timeout names it.
LOADING, FUNCTION, HELPER = -1, 0, 1

ComplexWarning = getattr(np, "exceptions", np).ComplexWarning

#: Characters of an exception's message kept in ours.
MESSAGE = 300

#: Complex step is trusted only where it matches a central difference to this relative
#: error (code that drops imaginary parts is wrong by order one, not by a little).
COMPLEX_AGREEMENT = 1e-3

#: Two calls at one point may differ by this, relative, and still count as the same.
SAME = 1e-13


class CodeError(GradcheckError):
    """The user's code raised, did not return in time, or ended the worker."""


class CodeTimeout(CodeError):
    """The user's code did not return within the time limit."""


class Session:
    """The loaded code, the last point, and the batches evaluated at it."""

    def __init__(self, code: Code, busy, printed) -> None:
        """``busy`` is shared with the parent; ``printed`` collects what the code prints."""
        self.code = code
        self.busy = busy
        self.printed = printed
        self.point: dict[str, np.ndarray] = {}
        self.names: tuple[str, ...] = ()
        self.refused: ReturnError | None = None  # why the code cannot take the point
        self.mutates = False  # once seen, every call gets fresh copies

    def info(self) -> dict:
        """The function's parameters: those without a default, in order."""
        params = self.code.signature.parameters.values()
        positional = [p.name for p in params if p.kind is p.POSITIONAL_ONLY]
        if positional:
            raise ReturnError(
                f"{self.code.name} takes positional-only parameters ({', '.join(positional)}); "
                "gradcheck passes inputs by name"
            )
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        required = [p.name for p in params if p.kind in named and p.default is p.empty]
        return {"required": required}

    def _use(self, point: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
        """The point sent, or the one held (None); kept even when the code cannot take it,
        since the parent will not send it again."""
        if point is not None:
            self.point = point
            self.names = order(self.code.signature, tuple(point))
            self.refused = None
            try:
                self.code.check_call(point)
            except ReturnError as e:
                self.refused = e
        if self.refused is not None:
            raise self.refused
        return self.point

    def evaluate(self, point, dout) -> Call:
        """One call of the function and its gradient side, on copies; what changed."""
        base = self._use(point)
        self.printed.take()
        args = _copies(base)
        self.busy.value = FUNCTION
        returned, rest = self.code.split(self.code.function(**args))
        value = np.array(self.code.value(returned))  # a copy: backward may reuse `out`
        modified = _changed(base, args)
        grads, shapes = {}, {}
        if self.code.kind != "layer" or dout is not None:
            upstream = None
            if dout is not None:
                _check_dout(dout, value, self.code.name)
                upstream = dout.copy()
            args = args if rest is not NO_CACHE and self.code.kind == "layer" else _copies(base)
            self.busy.value = HELPER
            claimed, who = self.code.claimed(args, rest, upstream)
            grads, shapes = read_grads(claimed, who, base, self.names)
            modified |= _changed(base, args)
            if upstream is not None and not np.array_equal(upstream, dout):
                modified.add("dout")
        self.mutates |= bool(modified - {"dout"})
        return Call(
            value=value,
            grads=grads,
            dtype=np.asarray(returned).dtype,
            modified=tuple(n for n in (*self.names, "dout") if n in modified),
            shapes=shapes,
            printed=self.printed.take(),
        )

    def deterministic(self, point, dout) -> bool | str:
        """Whether two calls at the point agree (value and gradients); else what differed."""
        first, second = self.evaluate(point, dout), self.evaluate(None, dout)
        if _differ(first.value, second.value):
            return (
                f"two calls at the same point returned different values ({_brief(first.value)} "
                f"then {_brief(second.value)}): does it draw at random on each call, "
                "as dropout does?"
            )
        for name, grad in first.grads.items():
            other = second.grads.get(name)
            if other is None or _differ(grad, other):
                return (
                    f"two calls at the same point returned different gradients for {name}: "
                    "does it draw at random on each call, as dropout does?"
                )
        return True

    def values(self, point, name, flat, entries, dout) -> np.ndarray:
        """The output with one entry of ``name`` set, per row (see Worker.values)."""
        base = self._use(point)
        _check_real(base, name)
        flat = flat.astype(np.intp)
        if flat.size and (flat.min() < 0 or flat.max() >= base[name].size):
            raise GradcheckError(f"an index outside {name}, which has {base[name].size} entries")
        dtypes = {n: a.dtype for n, a in base.items()}
        if np.iscomplexobj(entries):
            dtypes[name] = np.result_type(base[name].dtype, entries.dtype)
        original = base[name].astype(dtypes[name]).reshape(-1)
        at, moved, kept = flat.tolist(), entries.tolist(), original[flat].tolist()

        def place(work, flats, r):
            flats[name][at[r]] = moved[r]

        def undo(work, flats, r):
            flats[name][at[r]] = kept[r]

        run = self._batch(len(entries), place, undo, dtypes, dout, ())
        if not np.iscomplexobj(entries):
            return run()

        def real(rows, points):
            return self.values(None, name, flat[rows], points, dout)

        return self._complex(run, entries, real, base[name].dtype)

    def along(self, point, direction, ts, dout) -> np.ndarray:
        """The output at ``x + t u`` per t (see Worker.along)."""
        base = self._use(point)
        direction = {n: _unpack(u) for n, u in direction.items()}
        for name, u in direction.items():
            _check_real(base, name)
            if u.shape != base[name].shape:
                raise GradcheckError(
                    f"a direction of shape {u.shape} for {name} of {base[name].shape}"
                )
        dtypes = {n: a.dtype for n, a in base.items()}
        for name, u in direction.items():
            dtypes[name] = np.result_type(base[name].dtype, u.dtype, ts.dtype)

        def place(work, flats, r):
            for name, u in direction.items():
                np.add(base[name], ts[r] * u, out=work[name], casting="unsafe")

        run = self._batch(len(ts), place, None, dtypes, dout, tuple(direction))
        if not np.iscomplexobj(ts):
            return run()
        dtype = np.result_type(*(base[n].dtype for n in direction))
        return self._complex(
            run, ts, lambda rows, points: self.along(None, direction, points, dout), dtype
        )

    def _batch(self, rows: int, place, undo, dtypes: dict, dout, moved: tuple[str, ...]):
        """A thunk for the stacked outputs of ``rows`` points. ``place(work, flats, r)``
        sets row r on the working copies (``flats``: the same, flat) and ``undo`` restores
        it; ``moved`` inputs are rewritten whole by each place. If the code changed its
        inputs, it is all done again on fresh copies per call."""

        def run() -> np.ndarray:
            self.busy.value = FUNCTION
            work = _copies(self.point, dtypes)
            result = self._loop(rows, place, undo, work, dtypes, dout)
            if self.mutates or _intact(self.point, work, moved):
                return result
            self.mutates = True
            return self._loop(rows, place, undo, work, dtypes, dout)

        return run

    def _loop(self, rows, place, undo, work, dtypes, dout) -> np.ndarray:
        """One call per row: the outputs, each checked against the first, stacked.

        The loop is the cost of a check beyond the user's own calls, so it does little:
        the first row is checked whole, the others when stacked."""
        function, output, direct = self.code.function, self.code.output, self.code.kind == "grad"
        fresh, outputs = self.mutates, []
        flats = {n: a.reshape(-1) for n, a in work.items()}
        for r in range(rows):
            if fresh:
                work = _copies(self.point, dtypes)
                flats = {n: a.reshape(-1) for n, a in work.items()}
            place(work, flats, r)
            value = function(**work) if direct else output(work)  # a frame less per call
            if undo is not None:
                undo(work, flats, r)
            if r == 0:
                self._first(value, rows, dout)
            if dout is not None:
                value = np.asarray(value)
                if value.shape != dout.shape:
                    _check_dout(dout, value, self.code.name)
                value = (value * dout).sum()
            elif type(value) is np.ndarray:
                value = value.copy()  # a buffer the code reuses must not alias the rows
            outputs.append(value)
        return self._stack(outputs, dout)

    def _first(self, value: Any, rows: int, dout) -> None:
        """The first row's output follows the convention, fits dout, and the batch its bound."""
        checked = self.code.value(value)
        if dout is not None:
            _check_dout(dout, checked, self.code.name)
        elif rows * checked.size > limits.ENTRIES.value:
            raise GradcheckError(limits.ENTRIES.message(rows * checked.size, "a batch"))

    def _stack(self, outputs: list, dout) -> np.ndarray:
        """The rows' outputs as one array: (rows,) for numbers, (rows, *out) for a layer."""
        rows = len(outputs)
        if not rows:
            return np.empty((0,))
        try:
            stacked = np.array(outputs)
        except (ValueError, TypeError):
            stacked = None
        first = np.shape(outputs[0])
        if stacked is None or stacked.dtype.kind not in "biufc" or stacked.shape[1:] != first:
            for value in outputs:
                if np.shape(value) != first:
                    self.code.value(value)  # names what is wrong with it, if anything
                    raise ReturnError(
                        f"{self.code.name} returned {describe(value)} at one point "
                        f"and {describe(outputs[0])} at another"
                    )
                self.code.value(value)
        if self.code.kind != "layer" or dout is not None:
            stacked = stacked.reshape(rows)
        return stacked.astype(np.result_type(stacked.dtype, np.float64), copy=False)

    def _complex(
        self, run: Callable[[], np.ndarray], points: np.ndarray, real, dtype: np.dtype
    ) -> np.ndarray:
        """A complex-step batch, trusted only where the code carries the imaginary part:
        not when it raises or warns (ComplexWarning), returns a real result, or disagrees
        with a central difference at a sample row (np.abs, .real, conj drop or flip it)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", ComplexWarning)
                result = run()
        except (Exception, ComplexWarning) as e:
            raise ComplexStepRefused(
                f"complex step does not apply: {self.code.name} raised {type(e).__name__} "
                f"for complex input ({' '.join(str(e).split())[:MESSAGE]})"
            ) from None
        if not np.iscomplexobj(result):
            raise ComplexStepRefused(
                f"complex step does not apply: {self.code.name} returned a real result "
                "for complex input"
            )
        eps = float(np.finfo(dtype).eps)
        for r in sorted({0, len(points) // 2}):
            x, h = float(points[r].real), float(points[r].imag)
            if h == 0:
                continue
            sides = np.array([x, x]) + np.array([-1, 1]) * eps ** (1 / 3) * max(1.0, abs(x))
            sides = sides.astype(dtype).astype(np.float64)  # steps the code really saw
            ends = real(np.array([r, r]), sides)
            central = (ends[1] - ends[0]) / (sides[1] - sides[0])
            claimed = result[r].imag / h
            scale = np.linalg.norm(central) + np.linalg.norm(claimed)
            rounding = 64 * eps * np.linalg.norm(result[r].real) / (sides[1] - sides[0])
            if np.linalg.norm(claimed - central) > COMPLEX_AGREEMENT * scale + rounding:
                raise ComplexStepRefused(
                    f"complex step does not apply: {self.code.name} gives a complex-step "
                    "derivative that disagrees with differences (does it use abs, .real, "
                    "conj or a comparison that drops the imaginary part?)"
                )
        return result


def _copies(point: dict[str, np.ndarray], dtypes: dict | None = None) -> dict[str, np.ndarray]:
    """Fresh C-ordered copies of the inputs, in the working dtypes where given (C order, so
    that their flat views write through)."""
    return {
        n: np.array(a, dtype=(dtypes or {}).get(n, a.dtype), order="C") for n, a in point.items()
    }


def _changed(base: dict[str, np.ndarray], args: dict[str, np.ndarray]) -> set[str]:
    """The inputs whose copies the code changed."""
    return {n for n, a in base.items() if not _equal(a, args[n])}


def _intact(base: dict[str, np.ndarray], work: dict[str, np.ndarray], moved) -> bool:
    """Whether the working copies still hold the point (``moved`` ones are rewritten)."""
    return all(n in moved or _equal(a.astype(work[n].dtype), work[n]) for n, a in base.items())


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def _differ(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two results differ by more than rounding could explain."""
    if a.shape != b.shape:
        return True
    with np.errstate(all="ignore"):
        scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
        return not np.allclose(a, b, rtol=SAME, atol=SAME * scale, equal_nan=True)


def _brief(value: np.ndarray) -> str:
    return f"{float(value):.6g}" if value.size == 1 else describe(value)


def _check_real(point: dict[str, np.ndarray], name: str) -> None:
    if name not in point:
        raise GradcheckError(f"{name!r} is not an input (inputs: {', '.join(point)})")
    if not is_real(point[name]):
        raise GradcheckError(f"{name} holds integers (labels, indices): it is not differentiated")


def _check_dout(dout: np.ndarray, out: np.ndarray, name: str) -> None:
    if dout.shape != out.shape:
        raise GradcheckError(
            f"dout has shape {dout.shape}, but {name} returned out of shape {out.shape}"
        )


def _unpack(u) -> np.ndarray:
    """A direction sent whole, or as (shape, dtype, indices, values)."""
    if isinstance(u, np.ndarray):
        return u
    shape, dtype, indices, values = u
    dense = np.zeros(shape, dtype=np.dtype(dtype))
    dense.reshape(-1)[indices] = values
    return dense
