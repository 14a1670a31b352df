"""Every bound on input, in one table: what it limits, its default, and how to lift it.

gradcheck reads files that others wrote and runs unattended in CI, so every size, depth,
count and duration a user can choose is bounded here. A bound that is hit is one clear
message naming the limit and the option that lifts it, never a hang or exhausted memory.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """A bound: its value, what it counts, and the option that lifts it (or None)."""

    value: int | float
    what: str
    option: str | None = None

    def message(self, found: int | float, subject: str) -> str:
        """``x has 1e+10 entries, above the limit of 10,000,000 (--max-entries)``."""
        lift = f"; {self.option} lifts it" if self.option else ""
        return f"{subject} has {found:,} {self.what}, above the limit of {self.value:,}{lift}"


#: Entries in one array (an input, a value, any intermediate node), checked before
#: anything is allocated: 10^7 float64 entries are 80 MB.
ENTRIES = Limit(10**7, "entries", "--max-entries")
#: Entries over all nodes of one expression's graph together (what a forward pass holds).
TOTAL_ENTRIES = Limit(10**8, "entries in all", "--max-entries")
#: Bytes in one problem file.
FILE_BYTES = Limit(10 * 2**20, "bytes", "--max-file-size")
#: YAML nodes after aliases are expanded: a few hundred bytes must not become gigabytes.
YAML_NODES = Limit(1_000_000, "YAML nodes once aliases are expanded")
#: Problems (YAML documents) in one file: each is a whole check.
DOCUMENTS = Limit(1_000, "problems (YAML documents)")
#: How deeply lists and mappings (YAML, values, expressions) may nest.
NESTING = Limit(64, "levels of nesting")
#: Digits in one written number (Python refuses int conversion past 4,300).
DIGITS = Limit(400, "digits")
#: Counts a user chooses on the command line.
POINTS = Limit(1_000, "points", None)
PROBES = Limit(10_000, "probes", None)
STEPS = Limit(10_000, "steps", None)
#: Seconds one problem may take (``--timeout``); user code is stopped at this bound too.
TIMEOUT = 60.0


def lift(*, entries: int | None = None, file_bytes: int | None = None) -> None:
    """Raise (or lower) limits for this process: ``--max-entries``, ``--max-file-size``.
    Worker processes forked after this inherit them."""
    global ENTRIES, TOTAL_ENTRIES, FILE_BYTES
    if entries is not None:
        ENTRIES = Limit(entries, ENTRIES.what, ENTRIES.option)
        TOTAL_ENTRIES = Limit(10 * entries, TOTAL_ENTRIES.what, TOTAL_ENTRIES.option)
    if file_bytes is not None:
        FILE_BYTES = Limit(file_bytes, FILE_BYTES.what, FILE_BYTES.option)


def entries_allowed(count: int, subject: str, *, total: bool = False) -> str | None:
    """The message when ``count`` entries are over the limit (checked before anything is
    allocated), else None."""
    limit = TOTAL_ENTRIES if total else ENTRIES
    return limit.message(count, subject) if count > limit.value else None
