"""Problem files: YAML in, validated problems out, every error with its file and line.

YAML is read with PyYAML's safe loader, composed rather than loaded so that each value
keeps its line and column, and each number the text it was written with (a claimed
``0.01715`` stands for 0.017145..0.017155). Validation is strict: an unknown key, a
wrong type, a shape that does not fit is an error, because a typo must not silently skip
a check. A file may hold several problems separated by ``---``; one broken problem does
not stop the others.
"""

from __future__ import annotations

import errno
import functools
import math
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gradcheck import limits
from gradcheck.errors import GradcheckError, ProblemError
from gradcheck.judge.expect import Expectation, Number
from gradcheck.source.language import RandomSpec, check_name, parse, parse_value, suggest
from gradcheck.source.problems import Problem, assemble

KEYS = ("name", "let", "expr", "at", "wrt", "expect", "claims", "tolerance", "step")
SUFFIXES = (".yaml", ".yml")

#: The only YAML types a problem file needs; any other tag (!!python/..., !!binary,
#: timestamps) is refused by name.
CORE_TAGS = frozenset(
    "tag:yaml.org,2002:" + t for t in ("map", "seq", "str", "int", "float", "bool", "null")
)
#: Numbers are bounded by their digits before they are converted (Python refuses an int
#: of more than 4,300 digits, and conversion time grows with the square of the length).
NUMBER_TAGS = frozenset(("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"))
STR_TAG = "tag:yaml.org,2002:str"
#: Plain numbers that YAML 1.1 reads as Python would: decimal ints without a leading
#: zero (012 is octal there), and floats with a dot (and a signed exponent), short
#: enough to be within the digits limit.
PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,39})(?:\.[0-9]{0,40}(?:[eE][-+][0-9]{1,3})?)?")


class Value(NamedTuple):  # a tuple: a file may hold a million of them
    """A YAML value with where it stands: a dict or list of Values, or a scalar."""

    data: Any
    line: int  # 1-based
    column: int  # 1-based
    text: str | None = None  # a scalar as written
    quoted: bool = False
    keys: dict[str, tuple[int, int]] | None = None  # a mapping's keys: (line, column)


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
            found.append(_unreachable(path, _why(exc, path)))
            continue
        if stat.S_ISDIR(status.st_mode):
            found.extend(sorted(_walk(path, status), key=_path_of))
        elif not stat.S_ISREG(status.st_mode):
            found.append(_unreachable(path, f"not a regular file ({_kind(status)})"))
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
            yield _unreachable(folder, f"cannot list the folder: {_why(exc, folder)}")
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                status = entry.stat()  # through links
            except OSError as exc:
                yield _unreachable(path, _why(exc, path))
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


def load(path: Path | str) -> list[Problem | Broken]:
    """Every problem in a file, in order; a problem that cannot be built becomes Broken.

    A file that cannot be read at all (not a regular file, too large, not UTF-8, a control
    character, YAML past its limits) is one Broken entry naming the file.
    """
    path = str(path)
    stem = Path(path).stem
    try:
        documents = _documents(_text(path), path)
    except ProblemError as error:
        return [Broken(stem, path, error)]
    out: list[Problem | Broken] = []
    for number, document in enumerate(documents, start=1):
        default = stem if len(documents) == 1 else f"{stem} #{number}"
        try:
            out.append(_problem(document, path, default))
        except GradcheckError as error:
            out.append(Broken(_name_of(document, default), path, error.located(path)))
        except RecursionError:  # an expression nested past what the parser can follow
            error = ProblemError("nested too deeply to read", where=path, line=document.line)
            out.append(Broken(_name_of(document, default), path, error))
    if not out:
        out.append(Broken(stem, path, ProblemError("the file holds no problem", where=path)))
    return out


# ---------------------------------------------------------------- reading, bounded


def _text(path: str) -> str:
    """The file's text: a regular file within the size limit, in UTF-8, with no character
    YAML refuses. Its size is known before it is read, and a special file is never opened
    (opening a FIFO waits for a writer)."""
    try:
        _regular(os.stat(path), path)
        # O_NONBLOCK: should the file become a FIFO after the stat, opening it still returns
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            _regular(os.fstat(f.fileno()), path)
            data = f.read(limits.FILE_BYTES.value + 1)
    except OSError as exc:
        raise ProblemError(f"cannot read the file: {_why(exc, path)}", where=path) from None
    _within_size(len(data), path)  # it grew after the stat
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        raise ProblemError(
            f"not UTF-8 text: the byte 0x{data[exc.start]:02x} cannot be decoded",
            where=path,
            line=line,
            column=column,
        ) from None
    from yaml.reader import Reader

    bad = Reader.NON_PRINTABLE.search(text)
    if bad is not None:
        line, column = _position(text, bad.start())
        raise ProblemError(
            f"the character U+{ord(bad.group()):04X} (a control character) is not allowed in YAML",
            where=path,
            line=line,
            column=column,
        )
    return text


def _regular(status: os.stat_result, path: str) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise ProblemError(f"not a regular file ({_kind(status)})", where=path)
    _within_size(status.st_size, path)


def _within_size(size: int, path: str) -> None:
    if size > limits.FILE_BYTES.value:
        raise ProblemError(limits.FILE_BYTES.message(size, "the file"), where=path)


def _kind(status: os.stat_result) -> str:
    """What a file that is not a regular file is."""
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(status.st_mode):
            return kind
    return "a special file"


def _why(exc: OSError, path: Path | str) -> str:
    """Why a path cannot be followed or read, in words."""
    if exc.errno == errno.ELOOP:
        return "a link loop: following its links never ends"
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return f"a broken link: its target {os.readlink(path)!r} does not exist"
    return exc.strerror or str(exc)


def _position(text: str | bytes, index: int) -> tuple[int, int]:
    """The 1-based line and column of ``text[index]`` (columns count characters)."""
    newline = "\n" if isinstance(text, str) else b"\n"
    start = text.rfind(newline, 0, index) + 1
    before = text[start:index]
    if isinstance(before, bytes):
        before = before.decode("utf-8", "replace")
    return text.count(newline, 0, index) + 1, len(before) + 1


# ---------------------------------------------------------------- YAML, bounded


def _documents(text: str, path: str) -> list[Value]:
    """The file's documents (null ones left out), composed within the limits."""
    import yaml

    composer = _Composer(path)
    documents = []
    loader = None
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
        loader.get_event()  # the stream starts
        while not loader.check_event(yaml.StreamEndEvent):
            loader.get_event()  # a document starts
            document = composer.document(loader)
            loader.get_event()  # the document ends
            if document.data is not None:
                documents.append(document)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, path) from None
    finally:
        if loader is not None:
            loader.dispose()
    return documents


def _yaml_error(exc, text: str, path: str) -> ProblemError:
    """Where YAML went wrong: where the parser noticed it, unless that is the end of the
    file (an unclosed bracket), where the construct it was reading began is more use."""
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    at_end = problem is not None and problem.index >= len(text.rstrip())
    mark = context if (at_end and context is not None) or problem is None else problem
    reason = " ".join(
        p for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p
    )
    reason = " ".join((reason or str(exc)).split())
    return ProblemError(
        f"not valid YAML: {reason}",
        where=path,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
    )


@dataclass(slots=True)
class _Open:
    """A list or mapping being read: what it holds so far, its size once aliases are
    expanded, and how deeply it nests."""

    start: Any  # the event that opened it
    items: list | dict
    keys: dict[str, tuple[int, int]] | None = None
    key: Value | None = None  # a mapping's key, waiting for its value
    size: int = 1
    height: int = 1


class _Composer:
    """YAML events to Values, iteratively, within the limits: nesting depth, digits in a
    number, and nodes counted as aliases expand. An alias shares the Value it names, so
    an expansion is counted, and refused, without ever being built."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.anchors: dict[str, tuple[Value, int, int]] = {}  # value, size, height
        self.nodes = 0  # in the whole file, aliases expanded

    def document(self, loader) -> Value:
        """The next document's root; the loader stands after its last node."""
        import yaml

        stack: list[_Open] = []
        while True:
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                value, size, height, anchor = self._scalar(loader, event), 1, 0, event.anchor
                self._fits(len(stack), 1, event)
            elif kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
                self._fits(len(stack) + 1, 1, event)
                self._allowed(_collection_tag(event), event)
                mapping = kind is yaml.MappingStartEvent
                stack.append(_Open(event, {} if mapping else [], {} if mapping else None))
                continue
            elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
                done = stack.pop()
                value, size, height = self._closed(done), done.size, done.height
                anchor = done.start.anchor
            else:  # an alias
                value, size, height = self._alias(event, stack)
                self._fits(len(stack) + height, size, event)
                anchor = None
            if anchor is not None:
                self.anchors[anchor] = (value, size, height)
            if not stack:
                return value
            self._add(stack[-1], value, size, height)

    def _fits(self, depth: int, size: int, event) -> None:
        """Count ``size`` more nodes at ``depth``; refuse what passes a limit."""
        self.nodes += size
        if depth > limits.NESTING.value:
            raise self._error(limits.NESTING.message(depth, "the YAML here"), event)
        if self.nodes > limits.YAML_NODES.value:
            raise self._error(limits.YAML_NODES.message(self.nodes, "the YAML up to here"), event)

    def _alias(self, event, stack: list[_Open]) -> tuple[Value, int, int]:
        if event.anchor in self.anchors:
            return self.anchors[event.anchor]
        if any(o.start.anchor == event.anchor for o in stack):
            raise self._error(
                f"the alias *{event.anchor} refers to a list or mapping that holds it", event
            )
        raise self._error(
            f"the alias *{event.anchor} refers to no anchor &{event.anchor} before it", event
        )

    def _scalar(self, loader, event) -> Value:
        import yaml

        text, tag = event.value, event.tag
        mark = event.start_mark
        if tag is None and event.implicit[0] and PLAIN_NUMBER.fullmatch(text):
            # a plain decimal number, as in a long list of them: what YAML 1.1 would
            # resolve and construct, without the cost
            data = float(text) if "." in text else int(text)
            return Value(data, mark.line + 1, mark.column + 1, text)
        if tag is None or tag == "!":
            tag = loader.resolve(yaml.ScalarNode, text, event.implicit)
        if tag == STR_TAG:  # the common case, and the simplest
            data = text
        else:
            self._allowed(tag, event)
            if tag in NUMBER_TAGS and len(text) > limits.DIGITS.value:
                digits = sum(c.isalnum() for c in text)
                if digits > limits.DIGITS.value:
                    raise self._error(limits.DIGITS.message(digits, "a number"), event)
            node = yaml.ScalarNode(tag, text, event.start_mark, event.end_mark, event.style)
            try:  # the constructor for the tag, not construct_object: that one keeps every node
                data = _constructor().yaml_constructors[tag](_constructor(), node)
            except (yaml.YAMLError, ValueError, OverflowError) as exc:
                raise self._error(f"bad value: {exc}", event) from None
        return Value(data, mark.line + 1, mark.column + 1, text, event.style in ("'", '"'))

    def _add(self, into: _Open, value: Value, size: int, height: int) -> None:
        into.size += size
        into.height = max(into.height, height + 1)
        if into.keys is None:
            into.items.append(value)
        elif into.key is None:
            if not isinstance(value.data, str):
                got = value.text if value.text is not None else "a list or mapping"
                raise ProblemError(
                    f"a key must be a name, got {got!r}",
                    where=self.path,
                    line=value.line,
                    column=value.column,
                )
            if value.data in into.items:
                raise ProblemError(
                    f"{value.data!r} is given twice",
                    where=self.path,
                    line=value.line,
                    column=value.column,
                )
            into.key = value
        else:
            into.items[into.key.data] = value
            into.keys[into.key.data] = (into.key.line, into.key.column)
            into.key = None

    def _closed(self, done: _Open) -> Value:
        line, column = _mark(done.start)
        return Value(done.items, line, column, keys=done.keys)

    def _allowed(self, tag: str, event) -> None:
        if tag not in CORE_TAGS:
            raise self._error(f"the YAML tag {tag!r} is not allowed", event)

    def _error(self, message: str, event) -> ProblemError:
        line, column = _mark(event)
        return ProblemError(message, where=self.path, line=line, column=column)


def _collection_tag(event) -> str:
    import yaml

    if event.tag not in (None, "!"):
        return event.tag
    return "tag:yaml.org,2002:" + ("map" if isinstance(event, yaml.MappingStartEvent) else "seq")


def _mark(event) -> tuple[int, int]:
    return event.start_mark.line + 1, event.start_mark.column + 1


@functools.cache
def _constructor():
    """PyYAML's safe constructor, for its scalar rules only."""
    from yaml.constructor import SafeConstructor

    return SafeConstructor()


# ---------------------------------------------------------------- schema


def _problem(document: Value, path: str, default_name: str) -> Problem:
    fields = _mapping(document, path, "a problem")
    _known_keys(document, KEYS, path, "")
    if "expr" not in fields:
        raise ProblemError(
            "missing key 'expr' (the scalar function to check)",
            where=path,
            line=document.line,
            column=document.column,
        )
    term = _expression(fields["expr"], path, "expr")
    lets = [
        (name, _expression(value, path, f"let {name}"))
        for name, value in _mapping(fields.get("let"), path, "let").items()
    ]
    for name, value in _mapping(fields.get("let"), path, "let").items():
        _name(name, path, value.line)
    values = {
        name: (_at_value(value, path, name), path)
        for name, value in _mapping(fields.get("at"), path, "at").items()
    }
    for name, value in _mapping(fields.get("at"), path, "at").items():
        _name(name, path, value.line)
    claims = [
        (name, _expression(value, path, f"claims {name}"))
        for name, value in _mapping(fields.get("claims"), path, "claims").items()
    ]
    rtol, atol = _tolerance(fields.get("tolerance"), path)
    step = _number(fields["step"], path, "step", positive=True) if "step" in fields else None
    problem = assemble(
        term,
        lets,
        values,
        _wrt(fields.get("wrt"), path),
        claims,
        name=_name_of(document, default_name),
        rtol=rtol,
        atol=atol,
        step=step,
        file=path,
        line=document.line,
        where={"wrt": path},
    )
    if "expect" in fields:
        problem = problem.with_expectation(_expectation(fields["expect"], path, problem))
    return problem


def _known_keys(value: Value | None, known: tuple[str, ...], path: str, inside: str) -> None:
    """A typo in a key must not silently skip a check: unknown keys are errors."""
    for key, (line, column) in ((value.keys or {}) if value is not None else {}).items():
        if key not in known:
            hint = suggest(key, known) or "; the keys are " + ", ".join(known)
            raise ProblemError(
                f"unknown key {key!r}{inside}{hint}", where=path, line=line, column=column
            )


def _name_of(document: Value, default: str) -> str:
    if isinstance(document.data, dict) and "name" in document.data:
        name = document.data["name"]
        if isinstance(name.data, (str, int, float)) and not isinstance(name.data, bool):
            return str(name.data)
    return default


def _mapping(value: Value | None, path: str, what: str) -> dict[str, Value]:
    if value is None:
        return {}
    if not isinstance(value.data, dict):
        raise ProblemError(
            f"{what} must be a mapping of keys to values",
            where=path,
            line=value.line,
            column=value.column,
        )
    return value.data


def _name(name: str, path: str, line: int) -> None:
    try:
        check_name(name, path, line=line)
    except GradcheckError as error:
        raise error.located(path, line) from None


def _expression(value: Value, path: str, what: str):
    """An expression from a YAML scalar, with its columns pointing into the file."""
    if isinstance(value.data, bool) or not isinstance(value.data, (str, int, float)):
        raise ProblemError(
            f"{what} must be an expression (a string)",
            where=path,
            line=value.line,
            column=value.column,
        )
    text = value.text if value.text is not None else str(value.data)
    offset = value.column - 1 + (1 if value.quoted else 0)
    return parse(text, where=path, line=value.line, offset=offset)


def _at_value(value: Value, path: str, name: str):
    """A value under at: a number, a nested list of numbers, or text such as random(3, 3)."""
    if isinstance(value.data, str):
        offset = value.column - 1 + (1 if value.quoted else 0)
        parsed = parse_value(value.data, path, line=value.line, offset=offset)
        entries = math.prod(parsed.shape) if isinstance(parsed, RandomSpec) else 0
        refused = limits.entries_allowed(entries, name)  # before anything is drawn
        if refused:
            raise ProblemError(refused, where=path, line=value.line, column=value.column)
        return parsed
    return _numbers(value, path, f"the value of {name}")


def _numbers(value: Value, path: str, what: str) -> np.ndarray:
    """A number or a rectangular nested list of numbers, as an array."""

    def plain(v: Value):
        if isinstance(v.data, list):
            if not v.data:
                raise ProblemError(
                    f"{what} has an empty list", where=path, line=v.line, column=v.column
                )
            return [plain(item) for item in v.data]
        return _number(v, path, what)

    nested = plain(value)
    try:
        array = np.array(nested, dtype=float)
    except ValueError:
        raise ProblemError(
            f"{what} is a ragged list: its rows have different lengths",
            where=path,
            line=value.line,
            column=value.column,
        ) from None
    return array


def _number(value: Value, path: str, what: str, *, positive: bool = False) -> float:
    data = value.data
    if isinstance(data, str):  # YAML 1.1 reads 1e-6 (no dot) as text
        try:
            data = float(data) if len(data) <= limits.DIGITS.value else None
        except ValueError:
            data = None
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        raise ProblemError(
            f"{what} must be a number, got {_shown(value.text)!r}",
            where=path,
            line=value.line,
            column=value.column,
        )
    try:
        number = float(data)
    except OverflowError:  # an int past float's range
        number = math.inf
    if not math.isfinite(number) or (positive and number <= 0):
        kind = "a positive number" if positive else "finite"
        raise ProblemError(
            f"{what} must be {kind}, got {_shown(value.text)}",
            where=path,
            line=value.line,
            column=value.column,
        )
    return number


def _shown(text: str | None, most: int = 40) -> str | None:
    """Text short enough to quote in a message."""
    return text if text is None or len(text) <= most else text[: most - 3] + "..."


def _wrt(value: Value | None, path: str) -> list[str] | None:
    if value is None:
        return None
    items = value.data if isinstance(value.data, list) else [value]
    names = []
    for item in items:
        if not isinstance(item.data, str):
            raise ProblemError(
                "wrt must be a list of input names", where=path, line=item.line, column=item.column
            )
        names.extend(n.strip() for n in item.data.split(",") if n.strip())
    return names


def _tolerance(value: Value | None, path: str) -> tuple[float | None, float | None]:
    fields = _mapping(value, path, "tolerance")
    _known_keys(value, ("rtol", "atol"), path, " in tolerance")
    rtol = _number(fields["rtol"], path, "rtol") if "rtol" in fields else None
    atol = _number(fields["atol"], path, "atol") if "atol" in fields else None
    for name, tol, item in (("rtol", rtol, fields.get("rtol")), ("atol", atol, fields.get("atol"))):
        if tol is not None and tol < 0:
            raise ProblemError(f"{name} must not be negative", where=path, line=item.line)
    return rtol, atol


def _expectation(value: Value, path: str, problem: Problem) -> Expectation:
    fields = _mapping(value, path, "expect")
    _known_keys(value, ("value", "grad"), path, " in expect")
    missing = [n for n in problem.random_names if n not in problem.index_axes]
    if missing:
        raise ProblemError(
            f"expect needs every input given in at:, so that the point is "
            f"known; {missing[0]} has no value",
            where=path,
            line=value.line,
        )
    claimed_value = None
    if "value" in fields:
        claimed_value = _claimed(fields["value"], path, "expect value")
    grads = {}
    named = list(problem.wrt) + [n for n in problem.lets if problem.intermediate(n) is not None]
    for name, item in _mapping(fields.get("grad"), path, "expect grad").items():
        if name not in named:
            hint = suggest(name, named)
            raise ProblemError(
                f"expect grad names {name!r}, which is neither differentiated nor a let the "
                f"expression uses{hint}; it must be one of {', '.join(named)}",
                where=path,
                line=item.line,
            )
        claimed = _claimed(item, path, f"expect grad {name}")
        node = problem.intermediate(name)
        shape = problem.shapes[name] if node is None else problem.program.nodes[node].shape
        if claimed.value.shape != shape:
            raise ProblemError(
                f"expect grad {name} has shape {claimed.value.shape}, but {name} has shape {shape}",
                where=path,
                line=item.line,
                column=item.column,
            )
        grads[name] = claimed
    return Expectation(claimed_value, grads, line=value.line)


def _claimed(value: Value, path: str, what: str) -> Number:
    """Claimed numbers with, for each, the precision it was written with."""
    values = _numbers(value, path, what)

    def precisions(v: Value):
        if isinstance(v.data, list):
            return [precisions(item) for item in v.data]
        return Number.precision_of(v.text)

    return Number(values, np.array(precisions(value), dtype=float))
