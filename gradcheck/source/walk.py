"""Finding problem files: the paths named, and every *.yaml / *.yml below the folders."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gradcheck.errors import GradcheckError, ProblemError
from gradcheck.source.yamlread import kind, why

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Broken:
    """A problem (or a whole file) that could not be built."""

    name: str
    file: str
    error: GradcheckError


def find(paths: list[str]) -> list[Path | Broken]:
    """The problem files named, and every *.yaml / *.yml below the folders named, sorted.

    Nothing is passed over in silence: a folder that cannot be listed, a link that is
    broken or loops, a file that is not a regular file is a Broken entry naming the path
    and the reason, and becomes that path's error. Links are followed, each folder once.

    Raises:
        ProblemError: a path that does not exist, or a regular file that is not YAML.
    """
    found: list[Path | Broken] = []
    for raw in paths:
        path = Path(raw)
        try:
            status = os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ENOENT and not os.path.islink(path):
                raise ProblemError(f"no such file or folder: {raw}") from None
            found.append(_unreachable(path, why(exc, path)))
            continue
        if stat.S_ISDIR(status.st_mode):
            found.extend(sorted(_walk(path, status), key=_path_of))
        elif not stat.S_ISREG(status.st_mode):
            found.append(_unreachable(path, f"not a regular file ({kind(status)})"))
        elif path.suffix not in SUFFIXES:
            raise ProblemError(f"not a problem file (expected .yaml or .yml): {raw}")
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def _walk(root: Path, status: os.stat_result) -> Iterator[Path | Broken]:
    """The YAML files below ``root``, depth first, and what could not be looked at."""
    seen = {(status.st_dev, status.st_ino)}
    folders = [(root, frozenset(seen))]  # each with the folders it lies in: a loop's sign
    while folders:
        folder, within = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            yield _unreachable(folder, f"cannot list the folder: {why(exc, folder)}")
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                status = entry.stat()  # through links
            except OSError as exc:
                yield _unreachable(path, why(exc, path))
                continue
            if stat.S_ISDIR(status.st_mode):
                folder_id = (status.st_dev, status.st_ino)
                if folder_id in within:
                    yield _unreachable(path, "a link loop: it leads back to a folder it is in")
                elif folder_id not in seen:  # a folder reached twice is walked once
                    seen.add(folder_id)
                    folders.append((path, within | {folder_id}))
            elif path.suffix in SUFFIXES:
                yield path  # load() refuses, by name, what is not a regular file


def _unreachable(path: Path, reason: str) -> Broken:
    name = path.stem if path.suffix in SUFFIXES else path.name
    return Broken(name, str(path), ProblemError(reason, where=str(path)))


def _path_of(item: Path | Broken) -> Path:
    return Path(item.file) if isinstance(item, Broken) else item
