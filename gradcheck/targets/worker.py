"""The user's code, run in a worker process: with a time limit, on copies, fast.

gradcheck never imports the user's file itself. A worker process (forked where the
platform allows, so it starts in milliseconds with NumPy already loaded) imports it,
holds its functions and any layer ``cache``, and answers requests over a pipe. Batches
of perturbed points are evaluated in a loop inside the worker, one round trip per batch,
so the cost of a check is the user's own calls. A request that outlives ``timeout`` ends
the worker (the next request starts a fresh one); an exception in the user's code comes
back as a ``CodeError`` with their traceback trimmed to their files. Nothing the code
does reaches the caller's arrays: the worker gets copies and hands the code copies.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import sys
from typing import Any

import numpy as np
import numpy.random  # loaded once here, not in every forked worker

from gradcheck import limits
from gradcheck.errors import GradcheckError
from gradcheck.source.code import CodeRef
from gradcheck.targets import session
from gradcheck.targets.conventions import Call, ReturnError
from gradcheck.targets.session import LOADING, CodeError, CodeTimeout, ComplexStepRefused

__all__ = ["Call", "CodeError", "CodeTimeout", "ComplexStepRefused", "Worker"]

#: fork starts a worker in milliseconds; macOS forks unsafely (system frameworks), and
#: Windows cannot: there a worker is spawned, and imports gradcheck anew.
START = (
    "fork"
    if "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"
    else "spawn"
)

#: The errors a worker may send back, by name (exceptions themselves are not pickled:
#: a GradcheckError's keyword arguments do not survive it).
ERRORS = {cls.__name__: cls for cls in (GradcheckError, ReturnError, CodeError, ComplexStepRefused)}

#: A direction with fewer nonzero entries than this fraction of its size is sent as
#: (indices, values): bisection probes along directions confined to small blocks.
SPARSE = 0.25


class Worker:
    """The user's function and its gradient or backward, called in a worker process.

    Use as a context manager: ``with Worker(ref, grad=grad_ref) as w: w.evaluate(point)``.
    Every method takes the point as a dict of input arrays; it is sent only when it
    differs from the last one sent.
    """

    def __init__(
        self,
        function: CodeRef,
        grad: CodeRef | None = None,
        backward: CodeRef | None = None,
        timeout: float = limits.TIMEOUT,
    ) -> None:
        if grad is not None and backward is not None:
            raise GradcheckError("give a gradient (--grad) or a backward (--backward), not both")
        if not (isinstance(timeout, (int, float)) and timeout > 0 and math.isfinite(timeout)):
            raise GradcheckError(f"--timeout must be a positive number of seconds, not {timeout!r}")
        self.function = function
        self.helper = grad or backward
        self.kind = "grad" if grad else "layer" if backward else "pair"
        self.timeout = float(timeout)
        self._process: Any = None
        self._conn: Any = None
        self._busy: Any = None
        self._info: dict = {}
        self._sent: dict[str, np.ndarray] | None = None

    def __enter__(self) -> Worker:
        self._start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker process (it is started again by the next request)."""
        if self._process is None:
            return
        with contextlib.suppress(OSError):
            self._conn.send(("stop", ()))
        self._process.join(1.0)
        self._end()

    def parameters(self) -> list[str]:
        """The function's parameters that have no default, in order."""
        if self._process is None:
            self._start()
        return list(self._info["required"])

    def evaluate(self, inputs: dict, dout: np.ndarray | None = None) -> Call:
        """One call of the function and of its gradient (a layer: forward, then backward
        with ``dout``; without ``dout`` a layer's forward alone, to learn its shape)."""
        return self._request("evaluate", inputs, _array(dout))

    def values(
        self,
        inputs: dict,
        name: str,
        flat_indices: np.ndarray,
        entries: np.ndarray,
        dout: np.ndarray | None = None,
    ) -> np.ndarray:
        """The output at each copy r of the point with flat entry ``flat_indices[r]`` of
        ``name`` set to ``entries[r]``: shape (rows, *output_shape), or (rows,) of
        ``sum(out * dout)``. Complex entries are a complex step, refused with
        ``ComplexStepRefused`` where the code does not carry it."""
        flat = np.asarray(flat_indices).ravel()
        entries = np.asarray(entries).ravel()
        if flat.shape != entries.shape:
            raise GradcheckError(f"{flat.size} indices for {entries.size} entries")
        return self._request("values", inputs, name, flat, entries, _array(dout))

    def along(
        self, inputs: dict, direction: dict, ts: np.ndarray, dout: np.ndarray | None = None
    ) -> np.ndarray:
        """The output at ``x + t u`` for each t (u: ``direction``, by input), stacked."""
        packed = {n: _pack(np.asarray(u)) for n, u in direction.items()}
        return self._request("along", inputs, packed, np.asarray(ts).ravel(), _array(dout))

    def deterministic(self, inputs: dict, dout: np.ndarray | None = None) -> bool | str:
        """True when two calls at the point agree; else what differed, in words."""
        return self._request("deterministic", inputs, _array(dout))

    # -- the process -------------------------------------------------------------------

    def _start(self) -> None:
        context = multiprocessing.get_context(START)
        parent, child = context.Pipe()
        self._busy = context.RawValue("i", LOADING)
        for stream in (sys.stdout, sys.stderr):  # a fork must not inherit unwritten output
            with contextlib.suppress(AttributeError, OSError, ValueError):
                stream.flush()
        refs = (self.function, self.helper)
        process = context.Process(
            target=session.serve,
            args=(child, parent, refs, self.kind, self._busy),
            name="gradcheck-worker",
            daemon=True,
        )
        process.start()
        child.close()
        self._process, self._conn, self._sent = process, parent, None
        self._info = self._receive()

    def _end(self) -> None:
        """Kill the worker if it still runs, and forget it and what it held."""
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
        self._process = self._conn = None
        self._sent = None

    def _request(self, op: str, inputs: dict, *args) -> Any:
        if self._process is None:
            self._start()
        point = self._point(inputs)
        try:
            self._conn.send((op, (point, *args)))
        except OSError:
            self._ended()
        return self._receive()

    def _point(self, inputs: dict) -> dict[str, np.ndarray] | None:
        """The inputs to send as arrays, or None when the worker holds them already."""
        arrays = {str(n): np.asarray(v) for n, v in inputs.items()}
        if self._sent is not None and _same(arrays, self._sent):
            return None
        self._sent = {n: a.copy() for n, a in arrays.items()}
        return arrays

    def _receive(self) -> Any:
        if not self._conn.poll(self.timeout):
            running = self._running()
            self._end()
            raise CodeTimeout(f"{running} did not return within {self.timeout:g} s (--timeout)")
        try:
            status, *reply = self._conn.recv()
        except (EOFError, OSError):
            self._ended()
        if status == "ok":
            return reply[0]
        kind, message = reply
        raise ERRORS.get(kind, GradcheckError)(message)

    def _ended(self):
        """The worker died under the user's code (a crash, ``os._exit``, the OOM killer)."""
        running = self._running()
        self._process.join(1.0)
        code = self._process.exitcode
        self._end()
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        raise CodeError(f"{running} ended the worker process ({how})")

    def _running(self) -> str:
        """What the worker was doing: importing the file, or calling which function."""
        busy = self._busy.value
        if busy == LOADING:
            return f"importing {self.function.file}"
        ref = self.helper if busy == 1 and self.helper is not None else self.function
        return ref.name


def _array(value) -> np.ndarray | None:
    return None if value is None else np.array(value)


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Whether two points hold the same inputs, bit for bit (NaN equal to NaN)."""
    return a.keys() == b.keys() and all(
        x.dtype == b[n].dtype
        and x.shape == b[n].shape
        and np.array_equal(x, b[n], equal_nan=x.dtype.kind in "fc")
        for n, x in a.items()
    )


def _pack(u: np.ndarray):
    """A direction as an array, or as (shape, dtype, indices, values) when mostly zero."""
    nonzero = np.flatnonzero(u)
    if nonzero.size < SPARSE * u.size:
        return (u.shape, u.dtype.str, nonzero, u.ravel()[nonzero])
    return u
