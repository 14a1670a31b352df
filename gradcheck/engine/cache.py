"""A small on-disk cache for what is slow to work out and never changes: symbolic tapes
and the outcomes of SymPy proofs, keyed by a digest of everything they depend on.

$GRADCHECK_CACHE_DIR, else $XDG_CACHE_HOME/gradcheck (~/.cache/gradcheck);
GRADCHECK_NO_CACHE=1 turns it off. A damaged or unwritable cache costs time, never a
wrong answer: what cannot be read is worked out again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from gradcheck.version import __version__


def folder() -> Path | None:
    """The cache's folder, or None when the cache is off."""
    if os.environ.get("GRADCHECK_NO_CACHE"):
        return None
    if os.environ.get("GRADCHECK_CACHE_DIR"):
        return Path(os.environ["GRADCHECK_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gradcheck"


def key(*parts) -> str:
    """A digest of everything an entry depends on (gradcheck's version included)."""
    return hashlib.sha256(repr((__version__, *parts)).encode()).hexdigest()


def read(kind: str, digest: str) -> str | None:
    """An entry's text, or None when it is absent, the cache is off, or it cannot be read."""
    base = folder()
    if base is None:
        return None
    try:
        return (base / kind / f"{digest}.json").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def write(kind: str, digest: str, text: str) -> None:
    """Keep an entry; each write is whole or absent, so concurrent workers are safe."""
    base = folder()
    if base is None:
        return
    path = base / kind / f"{digest}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8"
        ) as f:
            f.write(text)
        os.replace(f.name, path)
    except OSError:
        pass  # no cache, no harm: a read-only home still gets its answer
