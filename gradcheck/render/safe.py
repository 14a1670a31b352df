"""Text from files and users, made safe to show: no control character reaches a terminal,
a CI log or an XML file.

A problem's name, a file's path or a claimed formula may hold ESC (which drives the
terminal), BEL, a carriage return that overwrites the line, or a newline followed by
``::warning ...``, which GitHub Actions would read as a workflow command. Each is shown
escaped, as Python writes it in a string: ``\\x1b``, ``\\r``, ``\\n``.
"""

from __future__ import annotations

import dataclasses
import re
from enum import Enum
from typing import TypeVar

#: C0 and C1 controls and DEL, line and paragraph separators, the bidirectional
#: overrides and isolates that make text read differently from what it holds, and what
#: no UTF-8 output or XML file can hold (lone surrogates, U+FFFE and U+FFFF).
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)

#: Characters XML 1.0 forbids outright, even escaped (tab, newline and CR are allowed).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

T = TypeVar("T")


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character written as its escape: ``a\\x1bb``."""
    return _CONTROL.sub(_escape, text) if _CONTROL.search(text) else text


def xml_safe(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold written as escapes; tabs and line
    breaks are kept (XML can hold them)."""
    return _NOT_XML.sub(_escape, text) if _NOT_XML.search(text) else text


def escaped(data: T) -> T:
    """A copy of results (dataclasses, dicts, lists) with every string made ``printable``;
    numbers, arrays and status codes as they are, and unchanged parts shared, not copied."""
    if isinstance(data, str) and not isinstance(data, Enum):
        return printable(data)
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        changes = {}
        for field in dataclasses.fields(data):
            if field.init:
                value = getattr(data, field.name)
                new = escaped(value)
                if new is not value:
                    changes[field.name] = new
        return dataclasses.replace(data, **changes) if changes else data
    if isinstance(data, dict):
        items = [(escaped(k), escaped(v)) for k, v in data.items()]
        same = all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, data.items()))
        return data if same else dict(items)
    if isinstance(data, (list, tuple)) and type(data) in (list, tuple):
        values = [escaped(v) for v in data]
        return data if all(v is v0 for v, v0 in zip(values, data)) else type(data)(values)
    return data
