"""Reading a problem file, bounded: its text, then its YAML documents as Values.

The text is read only from a regular file within the size limit, in UTF-8, with no
character YAML refuses. YAML is read with PyYAML's safe loader, composed rather than
loaded so that each value keeps its line and column, and each number the text it was
written with (a claimed ``0.01715`` stands for 0.017145..0.017155). Nesting, nodes (aliases
expanded) and digits are bounded before anything is built; tags other than YAML's core
ones are refused by name.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from gradcheck import limits
from gradcheck.errors import ProblemError

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


# ---------------------------------------------------------------- reading, bounded


def read_text(path: str) -> str:
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
        raise ProblemError(f"cannot read the file: {why(exc, path)}", where=path) from None
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
        raise ProblemError(f"not a regular file ({kind(status)})", where=path)
    _within_size(status.st_size, path)


def _within_size(size: int, path: str) -> None:
    if size > limits.FILE_BYTES.value:
        raise ProblemError(limits.FILE_BYTES.message(size, "the file"), where=path)


def kind(status: os.stat_result) -> str:
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


def why(exc: OSError, path: Path | str) -> str:
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


def documents(text: str, path: str) -> list[Value]:
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
