"""The user's code, run in a worker process: with a time limit, on copies, fast.

gradcheck never imports the user's file itself. A worker process (forked where the
platform allows, so it starts in milliseconds with NumPy already loaded) imports it,
holds its functions and any layer ``cache``, and answers requests over a pipe. Batches
of perturbed points are evaluated in a loop inside the worker, one round trip per batch,
so the cost of a check is the user's own calls. A request that outlives ``timeout`` ends
the worker (the next request starts a fresh one); an exception in the user's code comes
back as a ``CodeError`` with their traceback trimmed to their files. Nothing the code
does reaches the caller's arrays: the worker gets copies and hands the code copies.

Both sides of the pipe are here: ``Worker`` in gradcheck's process, ``serve`` in the
worker's (it imports the code, then hands each request to a ``session.Session``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import multiprocessing
import os
import random
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import numpy.random  # loaded once here, not in every forked worker

from gradcheck import limits
from gradcheck.errors import GradcheckError
from gradcheck.source.code import CodeRef
from gradcheck.targets.conventions import Call, Code, ReturnError, describe
from gradcheck.targets.session import (
    FUNCTION,
    HELPER,
    LOADING,
    MESSAGE,
    CodeError,
    CodeTimeout,
    ComplexStepRefused,
    Session,
)

__all__ = ["Call", "CodeError", "CodeTimeout", "ComplexStepRefused", "Worker"]

#: fork starts a worker in milliseconds; macOS forks unsafely (system frameworks), and
#: Windows cannot: there a worker is spawned, and imports gradcheck anew.
FORK = "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"
START = "fork" if FORK else "spawn"

#: The errors a worker may send back, by name (exceptions themselves are not pickled:
#: a GradcheckError's keyword arguments do not survive it).
ERRORS = {cls.__name__: cls for cls in (GradcheckError, ReturnError, CodeError, ComplexStepRefused)}

#: Characters of the user's printing kept per evaluation.
PRINTED = 4000

#: gradcheck's own folder: frames in it are never the user's.
PACKAGE = Path(__file__).resolve().parent.parent

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
        self._guarded(self._start)
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
            self._guarded(self._start)
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
            target=serve,
            args=(child, parent, refs, self.kind, self._busy),
            name="gradcheck-worker",
            daemon=True,
        )
        process.start()
        child.close()
        self._process, self._conn, self._sent = process, parent, None
        self._info = _answer(self._receive())

    def _end(self) -> None:
        """Kill the worker if it still runs, and forget it and what it held."""
        if self._process is None:
            return
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
        self._process = self._conn = None
        self._sent = None

    def _request(self, op: str, inputs: dict, *args) -> Any:
        def exchange():
            if self._process is None:
                self._start()
            message = (op, (self._point(inputs), *args))
            try:
                self._conn.send(message)
            except OSError:
                self._ended()
            return self._receive()

        return _answer(self._guarded(exchange))

    def _guarded(self, exchange):
        """Run one exchange with the worker; anything that interrupts it (a time limit,
        Ctrl-C, a broken pipe) leaves the worker in an unknown state, so it is ended."""
        try:
            return exchange()
        except BaseException:
            self._end()
            raise

    def _point(self, inputs: dict) -> dict[str, np.ndarray] | None:
        """The inputs to send as arrays, or None when the worker holds them already."""
        arrays = {str(n): np.asarray(v) for n, v in inputs.items()}
        if self._sent is not None and _same(arrays, self._sent):
            return None
        self._sent = {n: a.copy() for n, a in arrays.items()}
        return arrays

    def _receive(self) -> tuple:
        """The worker's whole reply: ("ok", result) or ("error", class name, message)."""
        if not self._conn.poll(self.timeout):
            running = self._running()
            self._end()
            raise CodeTimeout(f"{running} did not return within {self.timeout:g} s (--timeout)")
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            self._ended()

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
        ref = self.helper if busy == HELPER and self.helper is not None else self.function
        return ref.name


def _answer(reply: tuple) -> Any:
    """The result of a reply, or its error raised (the worker itself is fine)."""
    status, *rest = reply
    if status == "ok":
        return rest[0]
    kind, message = rest
    raise ERRORS.get(kind, GradcheckError)(message)


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


# -- the worker's side -------------------------------------------------------------------


class Printed(io.TextIOBase):
    """What the user's code prints: kept up to a bound, never on gradcheck's output."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.size < PRINTED:
            self.parts.append(text[: PRINTED - self.size])
        self.size += len(text)
        return len(text)

    def take(self) -> str:
        """What was printed since the last take."""
        text, self.parts, self.size = "".join(self.parts), [], 0
        return text


def serve(conn, parent_end, refs: tuple[CodeRef, CodeRef | None], kind: str, busy) -> None:
    """The worker's main loop: load the code, then answer (op, args) until told to stop."""
    parent_end.close()  # forked with both ends: the parent's must close for EOF to reach us
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    printed = Printed()
    sys.stdout = sys.stderr = printed
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # nor C-level writes on gradcheck's stdout
    sys.dont_write_bytecode = True  # leave no __pycache__ in the user's folder
    np.random.seed(0)  # code that draws at import draws the same on every run
    random.seed(0)
    folders = [ref.path.parent for ref in refs if ref is not None]
    try:
        worker = Session(load(refs, kind, busy), busy, printed)
        conn.send(("ok", worker.info()))
    except BaseException as e:
        conn.send(failure(e, folders, refs[0].name))
        return
    while True:
        try:
            op, args = conn.recv()
        except (EOFError, OSError):
            return
        if op == "stop":
            return
        try:
            reply = ("ok", getattr(worker, op)(*args))
        except BaseException as e:
            who = refs[1].name if busy.value == HELPER and refs[1] else refs[0].name
            reply = failure(e, folders, who)
        busy.value = FUNCTION
        conn.send(reply)


def load(refs: tuple[CodeRef, CodeRef | None], kind: str, busy) -> Code:
    """Import the user's file(s) and find the functions named."""
    modules: dict[Path, Any] = {}
    functions = []
    for ref in refs:
        if ref is None:
            functions.append(None)
            continue
        if ref.function is not None:  # given by the library, inherited through the fork
            functions.append(ref.function)
            continue
        if ref.path not in modules:
            modules[ref.path] = _import(ref.path)
        function = getattr(modules[ref.path], ref.name, None)
        if function is None:
            raise ReturnError(f"{ref.file} defines no {ref.name!r} once imported")
        if not callable(function):
            raise ReturnError(f"{ref.text} is {describe(function)}, not a function")
        functions.append(function)
    busy.value = FUNCTION
    names = (refs[0].name, refs[1].name if refs[1] else "")
    return Code(kind, functions[0], functions[1], names)


def _import(path: Path) -> Any:
    """The module at ``path``, imported as a script's sibling would see it."""
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # so that `import helpers` next to it works
    name = path.stem
    if name in sys.modules or not name.isidentifier():
        name = f"_gradcheck_user_{len(sys.modules)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def failure(error: BaseException, folders: list[Path], who: str) -> tuple[str, str, str]:
    """The reply for an error: ours by its class, the user's as a CodeError whose message
    is their innermost frame (``layers.py, line 12, in f: ValueError: ...``)."""
    if isinstance(error, GradcheckError):
        return ("error", type(error).__name__, error.message)
    text = " ".join(str(error).split())
    if len(text) > MESSAGE:
        text = text[:MESSAGE] + "..."
    what = f"{type(error).__name__}: {text}" if text else type(error).__name__
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _theirs(f.filename, folders)]
    if not frames:
        return ("error", "CodeError", f"{who} raised {what}")
    last = frames[-1]
    return (
        "error",
        "CodeError",
        f"{_shown(last.filename)}, line {last.lineno}, in {last.name}: {what}",
    )


def _theirs(filename: str, folders: list[Path]) -> bool:
    """A frame in the user's code: under their files' folders, not a library's nor ours."""
    path = Path(filename).resolve()
    if "site-packages" in path.parts or "dist-packages" in path.parts:
        return False
    if path.is_relative_to(PACKAGE):
        return False
    return any(path.is_relative_to(folder) for folder in folders)


def _shown(filename: str) -> str:
    """A path as the user knows it: relative to the current folder when inside it."""
    relative = os.path.relpath(filename)
    return filename if relative.startswith("..") else relative
