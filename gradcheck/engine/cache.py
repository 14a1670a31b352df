"""A small on-disk cache for what is slow to work out and never changes: symbolic tapes
and the outcomes of SymPy proofs, keyed by a digest of everything they depend on.

$GRADCHECK_CACHE_DIR, else $XDG_CACHE_HOME/gradcheck (~/.cache/gradcheck);
GRADCHECK_NO_CACHE=1 turns it off. An entry is trusted only when it is right: each holds
a checksum of its kind, key and text, checked on every read, so an entry edited by hand,
cut short or copied under another key is removed and worked out again, never used.
Writes are atomic (whole or absent), and the cache is bounded: past ``MAX_FILES`` entries
or ``MAX_BYTES``, those least recently used are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import time
from pathlib import Path

from gradcheck.version import __version__

#: The first line of every entry: this format's name, then the checksum.
HEADER = "gradcheck-cache-1 sha256:"
#: Bounds on the whole cache; pruning brings it back to ``KEEP`` of each.
MAX_FILES = 5_000
MAX_BYTES = 50 * 2**20
KEEP = 0.8
#: A process looks at the cache's size at its first write and every this many after.
PRUNE_EVERY = 100
#: A temporary file this old (seconds) was left by a writer that died.
STALE = 3600.0

_writes = 0  # in this process


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
    """An entry's text; None when it is absent, the cache is off, or the entry is not
    exactly what was written (then it is removed, for the caller to write it anew)."""
    base = folder()
    if base is None:
        return None
    path = base / kind / f"{digest}.json"
    raw = _contents(path)
    if raw is None:
        return None
    header, _, text = raw.partition("\n")
    if header != HEADER + _checksum(kind, digest, text):
        _remove(path)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # used now: the last to be evicted
    return text


def write(kind: str, digest: str, text: str) -> None:
    """Keep an entry; each write is whole or absent, so concurrent workers are safe."""
    global _writes
    base = folder()
    if base is None:
        return
    path = base / kind / f"{digest}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8"
        ) as f:
            f.write(f"{HEADER}{_checksum(kind, digest, text)}\n{text}")
        try:
            os.replace(f.name, path)  # the entry appears whole, or not at all
        except OSError:
            _remove(Path(f.name))
            raise
    except OSError:
        return  # no cache, no harm: a read-only home still gets its answer
    _writes += 1
    if (_writes - 1) % PRUNE_EVERY == 0:
        prune(base)


def prune(base: Path) -> None:
    """Remove the least recently used entries while the cache is past its bounds (and
    temporary files that dying writers left)."""
    entries = []
    now = time.time()
    for path in base.glob("*/*"):
        try:
            status = path.stat()
        except OSError:
            continue
        if path.suffix == ".tmp" and now - status.st_mtime > STALE:
            _remove(path)
        elif path.suffix == ".json":
            entries.append((status.st_mtime, status.st_size, path))
    total = sum(size for _, size, _ in entries)
    if len(entries) <= MAX_FILES and total <= MAX_BYTES:
        return
    entries.sort()
    for count, (_, size, path) in enumerate(entries):
        if len(entries) - count <= KEEP * MAX_FILES and total <= KEEP * MAX_BYTES:
            break
        _remove(path)
        total -= size


def _checksum(kind: str, digest: str, text: str) -> str:
    return hashlib.sha256(f"{kind}/{digest}\n{text}".encode()).hexdigest()


def _contents(path: Path) -> str | None:
    """A regular file's text, read whole if it is within the bound; else None."""
    try:
        # O_NONBLOCK: something put in the cache's place that is not a file never blocks
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            status = os.fstat(f.fileno())
            if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_BYTES:
                return None
            return f.read(MAX_BYTES + 1).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):  # gone already: another process removed it
        path.unlink()
