"""Checking folders of problem files: workers, shards, fail-fast, in a stable order.

Each file is a unit of work; a file that cannot be read or parsed becomes an ``error``
result and never stops the others. Results come back in the order of the files (sorted
paths), whatever order the workers finish in. An expression's problem is checked by
``check_one``; a ``func:`` problem (the user's code) by ``check_code``, and only when
code is allowed: a folder of YAML never runs Python by surprise.
"""

from __future__ import annotations

import contextlib
import functools
import math
import multiprocessing
import os
import pickle
import signal
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from multiprocessing.connection import wait as connection_wait
from pathlib import Path

from gradcheck import limits
from gradcheck.check import Settings, check_one, failed
from gradcheck.errors import GradcheckError
from gradcheck.results import ProblemResult, Report
from gradcheck.source import files
from gradcheck.source.func import FuncProblem
from gradcheck.source.problems import Problem

#: Called after each file with (files done, files in all).
Progress = Callable[[int, int], None]
#: Checks one problem: check_problem, or in a test a stand-in.
Check = Callable[[Problem | FuncProblem, Settings], ProblemResult]
#: What find() gives: a problem file, or a path it could not look at.
Item = Path | files.Broken


def in_shard(item: Item, shard: tuple[int, int]) -> bool:
    """Whether ``item`` belongs to shard K of N (1-based): a stable split by path, so each
    machine of a CI matrix takes the same files every run, whatever files are added."""
    k, n = shard
    path = Path(item.file) if isinstance(item, files.Broken) else Path(item)
    return zlib.crc32(path.as_posix().encode()) % n == k - 1


def check_problem(
    problem: Problem | FuncProblem, settings: Settings, allow_code: bool = False
) -> ProblemResult:
    """An expression's problem by ``check_one``; the user's code by ``check_code``, only
    when ``allow_code``: else an ``error`` saying how to allow it, the code not imported.

    A problem's own ``step`` holds unless the settings give one (``--step``).
    """
    if problem.step is not None and settings.step is None:
        settings = replace(settings, step=problem.step)
    if not isinstance(problem, FuncProblem):
        return check_one(problem, settings)
    if not allow_code:
        return _code_refused(problem)
    from gradcheck.check_code import check_code  # the worker machinery, only when used

    return check_code(problem, settings)


def _code_refused(problem: FuncProblem) -> ProblemResult:
    """The error for code that was not allowed to run."""
    refs = {"function": problem.function, "grad": problem.grad, "backward": problem.backward}
    code = {kind: ref.text for kind, ref in refs.items() if ref is not None}
    runs = " and ".join(dict.fromkeys(r.file for r in refs.values() if r is not None))
    error = GradcheckError(
        f"this problem runs {runs}: run gradcheck check with --allow-code to allow it",
        where=problem.file,
        line=problem.line,
    )
    return ProblemResult(
        problem.name, None, "error", file=problem.file, kind="func", code=code,
        line=problem.line, message=str(error),
    )  # fmt: skip


def check_file(path: Item, settings: Settings, check: Check = check_problem) -> list[ProblemResult]:
    """Every problem in one file, checked; a broken problem or file is an error result."""
    return [_checked(item, settings, check) for item in _problems(path)]


def _problems(path: Item) -> list[Problem | FuncProblem | files.Broken]:
    """The file's problems; whatever goes wrong in reading is that file's error alone."""
    if isinstance(path, files.Broken):  # a path find() could not look at
        return [path]
    try:
        return files.load(path)
    except Exception as exc:  # a bug of ours must not stop the other files
        error = GradcheckError(
            f"internal error while reading the file ({type(exc).__name__}: {exc}); "
            "please report it",
            where=str(path),
        )
        return [files.Broken(Path(path).stem, str(path), error)]


def _checked(
    item: Problem | FuncProblem | files.Broken, settings: Settings, check: Check
) -> ProblemResult:
    start = time.perf_counter()
    if isinstance(item, files.Broken):
        result = failed(item.name, item.error, file=item.file)
    else:
        try:
            result = check(item, settings)
        except Exception as exc:  # check_one catches its own; a stand-in may not
            error = GradcheckError(
                f"internal error ({type(exc).__name__}: {exc}); please report it",
                where=item.file,
                line=item.line,
            )
            result = failed(item.name, error, file=item.file, expression=_expression(item))
    result.seconds = time.perf_counter() - start
    return result


def _expression(item: Problem | FuncProblem) -> str | None:
    return item.expression if isinstance(item, Problem) else None


def workers(jobs: int, count: int) -> int:
    """How many worker processes to start for ``count`` files: never more than the files
    or the CPUs this process may run on."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(jobs, count, cpus or 1))


def run(
    paths: Sequence[Item],
    settings: Settings,
    *,
    jobs: int = 1,
    fail_fast: bool = False,
    progress: Progress | None = None,
    allow_code: bool = False,
    check: Check | None = None,
) -> Report:
    """Check the problems in ``paths`` (files, already found and sharded).

    ``jobs`` is lowered to the number of files or CPUs. With ``fail_fast`` the run stops
    at the first file with a failure or error; ``Report.unchecked`` counts the files it
    did not check. ``allow_code`` lets ``func:`` problems run the user's code. ``check``
    checks one problem (default ``check_problem``; a test may give a slow one); in
    workers, a problem that runs past ``settings.timeout`` is stopped and is an error.
    """
    if check is None:  # a partial of a module's function: it crosses to spawned workers
        check = functools.partial(check_problem, allow_code=allow_code)
    results: dict[int, list[ProblemResult]] = {}

    def record(index: int, problems: list[ProblemResult]) -> bool:
        results[index] = problems
        if progress is not None:
            progress(len(results), len(paths))
        return fail_fast and any(p.status in ("fail", "error") for p in problems)

    jobs = workers(jobs, len(paths))
    if jobs == 1:
        for index, path in enumerate(paths):
            if record(index, check_file(path, settings, check)):
                break
    else:
        _Pool(paths, settings, jobs, check, record).run()
    problems = [p for index in sorted(results) for p in results[index]]
    return Report(problems, unchecked=len(paths) - len(results))


# ---------------------------------------------------------------- workers

#: A worker is ended this long after a problem's --timeout has passed: the problem's own
#: deadline (inside check_one) should stop it first, and say more.
GRACE = 2.0


def _limits() -> dict[str, limits.Limit]:
    """The limits as this process has them (an option may have lifted one)."""
    return {n: v for n, v in vars(limits).items() if isinstance(v, limits.Limit)}


def _serve(connection, settings: Settings, check: Check, bounds: dict) -> None:
    """A worker: for each (file, first problem) it is sent, check the file's problems from
    that one on, saying which it starts before it starts it, so that a stuck one is known."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if hasattr(os, "setpgid"):  # a group of its own: what it starts (code workers) ends with it
        os.setpgid(0, 0)
    for name, bound in bounds.items():  # a spawned process starts from the defaults
        setattr(limits, name, bound)
    try:
        while (task := connection.recv()) is not None:
            path, first = task
            connection.send(("reading",))
            for index, problem in enumerate(_problems(path)):
                if index >= first:
                    connection.send(("start", index, _label(problem)))
                    connection.send(("done", index, _picklable(_checked(problem, settings, check))))
            connection.send(("end",))
    except (EOFError, OSError, KeyboardInterrupt):
        pass  # the parent has gone, or ended the run


def _label(
    item: Problem | FuncProblem | files.Broken,
) -> tuple[str, str | None, int | None, str | None]:
    """What names a problem in an error result: name, file, line, expression."""
    if isinstance(item, files.Broken):
        return item.name, item.file, item.error.line, None
    return item.name, item.file, item.line, _expression(item)


def _picklable(result: ProblemResult) -> ProblemResult:
    try:
        pickle.dumps(result)
    except Exception as exc:  # a result that cannot cross to the parent is that problem's error
        error = GradcheckError(
            f"internal error (its result cannot be sent: {exc}); please report it"
        )
        return failed(result.name, error, file=result.file, expression=result.expression)
    return result


class _Worker:
    """One worker process, and what it is doing: the task (file index, first problem),
    the problem it is checking (or the one after the last it finished), and when the
    problem is due."""

    def __init__(self, context, settings: Settings, check: Check) -> None:
        self.connection, theirs = context.Pipe()
        # not a daemon: a daemon may not start processes, and the user's code runs in one
        # of its own; end() ends the worker's whole process group instead
        self.process = context.Process(
            target=_serve, args=(theirs, settings, check, _limits()), daemon=False
        )
        self.process.start()
        theirs.close()
        self.task: tuple[int, int] | None = None
        self.problem: tuple[int, tuple] | None = None  # index, label
        self.resume: int | None = None
        self.due = math.inf

    def give(self, task: tuple[int, int], path: Item) -> None:
        """Send a task; its time starts when the worker, started, takes it up."""
        self.task, self.problem, self.resume, self.due = task, None, None, math.inf
        self.connection.send((path, task[1]))

    def end(self) -> None:
        """End the worker and every process it started (the user's code's workers): its
        process group, killed before the worker is reaped, while its id is still its own."""
        if hasattr(os, "killpg"):
            with contextlib.suppress(OSError):  # already gone, or not yet in its group
                os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.connection.close()


class _Pool:
    """Workers checking files, one file each at a time. A worker whose problem runs past
    its time, or that dies, is ended and replaced: that problem is an error, and the
    file's later problems go on in the new worker."""

    def __init__(self, paths, settings: Settings, jobs: int, check: Check, record) -> None:
        # spawn, not fork: a forked child of a process holding BLAS threads can deadlock
        self.context = multiprocessing.get_context("spawn")
        self.paths, self.settings, self.check, self.record = paths, settings, check, record
        self.limit = _limit(settings.timeout)
        self.todo = deque((index, 0) for index in range(len(paths)))
        self.partial: dict[int, list[ProblemResult]] = {}
        self.workers = [self._start() for _ in range(jobs)]

    def run(self) -> None:
        """Check every file, or until ``record`` says stop; the workers end either way."""
        try:
            if self._feed():
                return
            while busy := [w for w in self.workers if w.task is not None]:
                wait = min(w.due for w in busy) - time.monotonic()
                ready = connection_wait(
                    [w.connection for w in busy], None if math.isinf(wait) else max(0.0, wait)
                )
                for worker in busy:
                    if worker.connection in ready:
                        stop = self._hear(worker)
                    elif time.monotonic() > worker.due:
                        stop = self._lost(worker, "timeout")
                    else:
                        continue
                    if stop:
                        return
                if self._feed():
                    return
        finally:
            for worker in self.workers:
                worker.end()

    def _start(self) -> _Worker:
        return _Worker(self.context, self.settings, self.check)

    def _feed(self) -> bool:
        """Give each idle worker its next file; True when the run should stop."""
        for worker in self.workers:
            while worker.task is None and self.todo:
                index, first = self.todo.popleft()
                path = self.paths[index]
                if isinstance(path, files.Broken):  # nothing to read: no need of a worker
                    if self.record(index, check_file(path, self.settings)):
                        return True
                    continue
                try:
                    worker.give((index, first), path)
                except OSError:  # it died while idle: its task goes to the next one
                    self._replace(worker)
                    self.todo.appendleft((index, first))
                    return self._feed()
        return False

    def _replace(self, worker: _Worker) -> None:
        worker.end()
        self.workers[self.workers.index(worker)] = self._start()

    def _hear(self, worker: _Worker) -> bool:
        try:
            message = worker.connection.recv()
        except (EOFError, OSError):
            return self._lost(worker, "died")
        index = worker.task[0]
        if message[0] == "reading":
            worker.due = time.monotonic() + self.limit
        elif message[0] == "start":
            worker.problem = (message[1], message[2])
            worker.due = time.monotonic() + self.limit
        elif message[0] == "done":
            self.partial.setdefault(index, []).append(message[2])
            worker.problem, worker.resume = None, message[1] + 1
        else:  # the file is done
            worker.task = None
            return self.record(index, self.partial.pop(index, []))
        return False

    def _lost(self, worker: _Worker, why: str) -> bool:
        """End a worker that ran out of time or died; its problem is an error."""
        index, _ = worker.task
        self._replace(worker)
        code = worker.process.exitcode
        if worker.problem is None and worker.resume is not None:  # between problems
            self.todo.appendleft((index, worker.resume))
            return False
        if worker.problem is None:  # reading the file, before any problem started
            name = Path(self.paths[index]).stem
            label, first = (name, str(self.paths[index]), None, None), None
        else:
            first, label = worker.problem
        name, file, line, expression = label
        if why == "timeout":
            message = (
                f"{'reading the file' if first is None else f'checking {name!r}'} took longer "
                f"than {self.settings.timeout:g} s; its worker was stopped (--timeout raises "
                "the limit)"
            )
        else:
            message = (
                f"the worker checking it stopped (exit code {code}; out of memory?); "
                "please report it if it happens again"
            )
        error = GradcheckError(message, where=file, line=line)
        self.partial.setdefault(index, []).append(
            failed(name, error, file=file, expression=expression)
        )
        if first is not None:  # the file's later problems, in a new worker, first in line
            self.todo.appendleft((index, first + 1))
            return False
        return self.record(index, self.partial.pop(index))


def _limit(timeout: float | None) -> float:
    """How long a worker may spend on one problem before it is ended (inf: no end)."""
    if timeout is None or not timeout > 0 or math.isinf(timeout):
        return math.inf
    return timeout + GRACE
