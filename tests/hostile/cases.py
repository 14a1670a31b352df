"""The hostile corpus: files that once crashed a batch, hung it, or exhausted its memory.

Small cases are files in this folder; large ones, and those the file system must make
(a FIFO, broken links, a link loop), are made by ``make``. Each case's expected words
are part of the error its file must get. ``python -m tests.hostile.cases FOLDER`` writes
the whole corpus into FOLDER, to measure it by hand.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gradcheck import limits

HERE = Path(__file__).resolve().parent

#: A problem that passes: it shares each case's folder, and must still pass.
GOOD = "name: good\nexpr: sin(x)*y\nat: {x: 1, y: 2}\nexpect:\n  grad: {x: 1.0806, y: 0.8415}\n"


def _deep(opening: str, closing: str, depth: int) -> bytes:
    return (opening * depth + "1" + closing * depth).encode()


#: Cases made here: name -> the file's bytes.
GENERATED = {
    "big-int.yaml": b"expr: x\nat: {x: " + b"7" * 5000 + b"}\n",
    "long-float.yaml": b"expr: x\nat: {x: 3." + b"1" * 10_000 + b"}\n",
    "deep-list.yaml": b"expr: x\nat: {x: " + _deep("[", "]", 10_000) + b"}\n",
    "deep-map.yaml": b"expr: x\nat: " + _deep("{a: ", "}", 10_000) + b"\n",
    "deep-block.yaml": b"expr: x\nat:\n"
    + "".join(" " * k + "a:\n" for k in range(1, 1000)).encode(),
    "too-many-nodes.yaml": b"expr: sum(x)\nat:\n  x: ["
    + b", ".join([b"1"] * (limits.YAML_NODES.value + 1))
    + b"]\n",
}

#: Every case -> words its error must hold.
EXPECTED = {
    "nul.yaml": "the character U+0000 (a control character) is not allowed in YAML",
    "escape.yaml": "the character U+001B (a control character) is not allowed in YAML",
    "not-utf8.yaml": "not UTF-8 text: the byte 0xe9 cannot be decoded",
    "billion-laughs.yaml": "YAML nodes once aliases are expanded, above the limit",
    "laughs-in-a-problem.yaml": "YAML nodes once aliases are expanded, above the limit",
    "recursive-alias.yaml": "the alias *loop refers to a list or mapping that holds it",
    "undefined-alias.yaml": "the alias *nowhere refers to no anchor",
    "python-tag.yaml": "the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'",
    "huge-random.yaml": "W has 10,000,000,000 entries, above the limit of 10,000,000",
    "float-overflow.yaml": "the value of x must be finite",
    "hex-huge.yaml": "the value of x must be finite",
    "big-int.yaml": "a number has 5,000 digits, above the limit of 400",
    "long-float.yaml": "a number has 10,001 digits, above the limit of 400",
    "deep-list.yaml": "nesting depth",  # libyaml's own bound, met while it scans ahead
    "deep-map.yaml": "the YAML here has 65 levels of nesting, above the limit of 64",
    "deep-block.yaml": "the YAML here has 65 levels of nesting, above the limit of 64",
    "too-many-nodes.yaml": "YAML nodes once aliases are expanded, above the limit of 1,000,000",
    "oversize.yaml": "the file has 10,485,761 bytes, above the limit of 10,485,760",
    "fifo.yaml": "not a regular file (a FIFO)",
    "dangling.yaml": "a broken link: its target",
    "knot.yaml": "a link loop: following its links never ends",
    "loop": "a link loop: it leads back to a folder it is in",
}


def make(name: str, folder: Path) -> Path:
    """Put case ``name`` into ``folder``; returns its path."""
    path = folder / name
    if name in GENERATED:
        path.write_bytes(GENERATED[name])
    elif name == "oversize.yaml":  # sparse: the size alone must refuse it
        with open(path, "wb") as f:
            f.truncate(limits.FILE_BYTES.value + 1)
    elif name == "fifo.yaml":
        os.mkfifo(path)
    elif name == "dangling.yaml":
        path.symlink_to(folder / "nowhere.yaml")
    elif name == "knot.yaml":
        (folder / "knot-back.yaml").symlink_to(path)
        path.symlink_to(folder / "knot-back.yaml")
    elif name == "loop":
        path.symlink_to(folder)
    else:
        path.write_bytes((HERE / name).read_bytes())
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for case in EXPECTED:
        make(case, out)
    (out / "good.yaml").write_text(GOOD)
