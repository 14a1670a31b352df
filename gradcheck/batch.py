"""Checking folders of problem files: workers, shards, fail-fast, in a stable order.

Each file is a unit of work; a file that cannot be read or parsed becomes an ``error``
result and never stops the others. Results come back in the order of the files (sorted
paths), whatever order the workers finish in.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from gradcheck.check import Settings, check_one, failed
from gradcheck.errors import GradcheckError
from gradcheck.results import ProblemResult, Report
from gradcheck.source import files
from gradcheck.source.problems import Problem

#: Called after each file with (files done, files in all).
Progress = Callable[[int, int], None]


#: What find() gives: a problem file, or a path it could not look at.
Item = Path | files.Broken


def in_shard(item: Item, shard: tuple[int, int]) -> bool:
    """Whether ``item`` belongs to shard K of N (1-based): a stable split by path, so each
    machine of a CI matrix takes the same files every run, whatever files are added."""
    k, n = shard
    path = Path(item.file) if isinstance(item, files.Broken) else Path(item)
    return zlib.crc32(path.as_posix().encode()) % n == k - 1


def check_file(path: Item, settings: Settings) -> list[ProblemResult]:
    """Every problem in one file, checked; a broken problem or file is an error result."""
    return [_checked(item, settings) for item in _problems(path)]


def _problems(path: Item) -> list[Problem | files.Broken]:
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


def _checked(item: Problem | files.Broken, settings: Settings) -> ProblemResult:
    start = time.perf_counter()
    if isinstance(item, files.Broken):
        result = failed(item.name, item.error, file=item.file)
    else:
        result = check_one(item, settings)
    result.seconds = time.perf_counter() - start
    return result


def workers(jobs: int, files: int) -> int:
    """How many worker processes to start: never more than the files or the CPUs."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(jobs, files, cpus or 1))


def run(
    paths: Sequence[Item],
    settings: Settings,
    *,
    jobs: int = 1,
    fail_fast: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Check the problems in ``paths`` (files, already found and sharded).

    ``jobs`` is lowered to the number of files or CPUs. With ``fail_fast`` the run stops
    at the first file with a failure or error; ``Report.unchecked`` counts the files it
    did not check.
    """
    results: dict[int, list[ProblemResult]] = {}

    def record(index: int, problems: list[ProblemResult]) -> bool:
        results[index] = problems
        if progress is not None:
            progress(len(results), len(paths))
        return fail_fast and any(p.status in ("fail", "error") for p in problems)

    jobs = workers(jobs, len(paths))
    if jobs == 1:
        for index, path in enumerate(paths):
            if record(index, check_file(path, settings)):
                break
    else:
        _in_workers(paths, settings, jobs, record)
    problems = [p for index in sorted(results) for p in results[index]]
    return Report(problems, unchecked=len(paths) - len(results))


def _in_workers(paths, settings, jobs, record) -> None:
    # spawn, not fork: a forked child of a process holding BLAS threads can deadlock
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending = {pool.submit(check_file, path, settings): i for i, path in enumerate(paths)}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                if record(pending.pop(future), future.result()):
                    for rest in pending:
                        rest.cancel()
                    return
