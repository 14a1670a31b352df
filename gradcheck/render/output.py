"""Writing rendered output to files: the one place an OSError becomes a message that names
the option, the path and the reason."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from gradcheck.errors import GradcheckError

#: The pictures we draw (a sweep's plot, a trace's graph).
PICTURES = (".png", ".svg", ".pdf")


@contextlib.contextmanager
def writing(option: str, path: str | Path) -> Iterator[None]:
    """Raise a GradcheckError naming ``option``, ``path`` and the OS's reason for any
    OSError inside (a missing folder, no permission, a full disk)."""
    try:
        yield
    except OSError as exc:
        raise GradcheckError(
            f"{option} {path}: cannot write it ({_reason(exc, Path(path))})"
        ) from None


def write_text(option: str, path: str | Path, text: str) -> None:
    """``text`` to ``path`` in UTF-8, or a message saying why it could not be written."""
    with writing(option, path):
        Path(path).write_text(text, encoding="utf-8")


def _reason(exc: OSError, path: Path) -> str:
    reason = exc.strerror or str(exc)
    folder = path.parent
    if isinstance(exc, FileNotFoundError) and not folder.is_dir():
        return f"{reason}: the folder {folder} does not exist"
    return reason
