"""References to the user's code, ``FILE.py:NAME``: parsed and validated, never imported.

A reference is checked as far as it can be without running anything: the file exists, is
a regular ``.py`` file, its text is valid Python, and NAME is bound at its top level
(a ``def``, a class, an assignment or an import). Importing the file would run its
top-level code; that happens only in the worker process, and only when the user asked
for code to run (``gradcheck func``, or ``check --allow-code``).
"""

from __future__ import annotations

import ast
import keyword
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.util import decode_source
from pathlib import Path

from gradcheck import limits
from gradcheck.errors import GradcheckError
from gradcheck.source.language import suggest

EXAMPLE = "layers.py:affine_forward"


@dataclass(frozen=True)
class CodeRef:
    """A function in a user's file: ``path`` (absolute), ``name``, and ``text`` as written;
    or, from the library, a ``function`` already in this process (the worker forks with it)."""

    path: Path
    name: str
    text: str
    function: Callable | None = field(default=None, compare=False)  # one already loaded

    @property
    def file(self) -> str:
        """The file as the user wrote it (``layers.py``), for messages."""
        return self.text.rpartition(":")[0]

    def __str__(self) -> str:
        return self.text


def parse_ref(text: str, base: Path | str | None = None, *, where: str | None = None) -> CodeRef:
    """Parse ``FILE.py:NAME``, the path relative to ``base`` (a folder) or the current one.

    ``where`` names the option or file the text came from (``--grad``, ``hw.yaml``).

    Raises:
        GradcheckError: the text is not ``FILE.py:NAME``, the file is missing, not a
            regular Python file, not valid Python, or does not define NAME.
    """
    path_text, colon, name = text.rpartition(":")
    if not colon or not path_text:
        raise _error(f"{text!r} names no function: write FILE.py:NAME, e.g. {EXAMPLE}", where)
    _check_name(name, text, where)
    path = Path(path_text)
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    _check_file(path, path_text, where)
    _check_defined(path, path_text, name, where)
    return CodeRef(path=path.resolve(), name=name, text=text)


def _error(message: str, where: str | None) -> GradcheckError:
    return GradcheckError(message, where=where)


def _check_name(name: str, text: str, where: str | None) -> None:
    """NAME is one Python identifier: a module-level function, not a method."""
    if "." in name and all(part.isidentifier() for part in name.split(".")):
        raise _error(
            f"{text!r}: {name!r} is a method; gradcheck calls a function defined at the top "
            "of the file, so wrap the method in one (see examples/network.py)",
            where,
        )
    if not name.isidentifier() or keyword.iskeyword(name):
        raise _error(f"{text!r}: {name!r} is not a Python name (expected e.g. {EXAMPLE})", where)


def _check_file(path: Path, shown: str, where: str | None) -> None:
    """The file exists, is a regular, readable ``.py`` file of bounded size."""
    if not path.exists():
        raise _error(f"no such file: {shown!r}", where)
    if path.is_dir():
        raise _error(f"{shown!r} is a folder, not a Python file", where)
    if not path.is_file():
        raise _error(f"{shown!r} is not a regular file", where)
    if path.suffix != ".py":
        raise _error(f"{shown!r} is not a Python file (expected a name ending in .py)", where)
    if not os.access(path, os.R_OK):
        raise _error(f"{shown!r} cannot be read (permission denied)", where)
    size = path.stat().st_size
    if size > limits.FILE_BYTES.value:
        raise _error(limits.FILE_BYTES.message(size, shown), where)


def _check_defined(path: Path, shown: str, name: str, where: str | None) -> None:
    """The file parses as Python and binds NAME at its top level (read, never run)."""
    try:
        source = decode_source(path.read_bytes())
        tree = ast.parse(source, filename=shown)
    except SyntaxError as e:
        raise GradcheckError(
            f"{shown} is not valid Python: {e.msg}", where=shown, line=e.lineno, column=e.offset
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError, MemoryError) as e:
        raise _error(f"{shown} cannot be read as Python: {type(e).__name__}", where) from None
    bound, starred = _top_level_names(tree.body)
    if name not in bound and not starred:
        functions = sorted(bound)
        raise _error(
            f"{shown} defines no {name!r} at its top level{suggest(name, functions)}", where
        )


def _top_level_names(body: list[ast.stmt]) -> tuple[set[str], bool]:
    """Names bound by the statements of a module (into if/try/with/for blocks too), and
    whether a ``from ... import *`` makes the set unknowable."""
    bound: set[str] = set()
    starred = False
    for statement in body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(statement.name)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            for alias in statement.names:
                starred |= alias.name == "*"
                bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            bound.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        for block in ("body", "orelse", "finalbody", "handlers"):
            if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner, star = _top_level_names(getattr(statement, block, []))
                bound |= inner
                starred |= star
    return bound, starred
