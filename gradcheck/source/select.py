"""One problem to look at closely (``sweep``, ``trace``): from an expression, or chosen
from a problem file by name or number."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gradcheck.errors import GradcheckError
from gradcheck.source.files import SUFFIXES, Broken, load
from gradcheck.source.problems import Problem, problem


def one_problem(
    source: str,
    at: Sequence[str] = (),
    lets: Sequence[str] = (),
    which: str | None = None,
    wrt: Sequence[str] | None = None,
) -> Problem:
    """A problem from an expression, or from a problem file (its first, or ``which``:
    a problem's name or its 1-based number in the file).

    Raises:
        GradcheckError: the file is missing or a folder, ``--at``/``--let``/``--wrt``
            are given with a file, ``which`` is not in it, or the problem is broken.
    """
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in SUFFIXES and not path.is_file():
        raise GradcheckError(f"{source}: no such file")
    if path.is_dir() and not source.isidentifier():  # "x" is a variable, even beside ./x
        raise GradcheckError(f"{source} is a folder; give one problem file (or use check)")
    if suffix not in SUFFIXES:
        return problem(source, lets=lets, at=at, wrt=wrt)
    if at or lets or wrt:
        raise GradcheckError(
            "--at, --let and --wrt go with an expression; a problem file has its own"
        )
    items = load(source)
    if not items:
        raise GradcheckError(f"{source} holds no problems")
    if which is not None:
        items = [p for n, p in enumerate(items, 1) if p.name == which or str(n) == which]
        if not items:
            raise GradcheckError(f"{source} holds no problem {which!r}", where="--problem")
    if isinstance(items[0], Broken):
        raise items[0].error
    if not isinstance(items[0], Problem):  # a func: problem runs the user's code
        raise GradcheckError(
            f"{source}: {items[0].name!r} checks your code (func:), which only "
            "gradcheck func, or gradcheck check --allow-code, runs"
        )
    return items[0]
