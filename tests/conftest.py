"""Shared fixtures: every test run gets its own symbolic cache, never the user's."""

import numpy as np
import pytest

from gradcheck.graph import Program
from gradcheck.language import Node, Scope, build, parse


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GRADCHECK_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("GRADCHECK_NO_CACHE", raising=False)


def program(text: str, **shapes) -> Program:
    """The program for ``text``, each input a scalar unless its shape is given."""
    term = parse(text)
    scope = Scope({n: Node("input", (), tuple(shapes.get(n, ())), name=n) for n in term.names()})
    return Program(build(term, scope))


def batched(**values) -> dict[str, np.ndarray]:
    """Values with a batch axis of one."""
    return {n: np.asarray(v, dtype=float)[None] for n, v in values.items()}
