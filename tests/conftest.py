"""Shared fixtures: every test run gets its own symbolic cache, never the user's."""

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from gradcheck.engine.graph import Program
from gradcheck.source.language import Node, Scope, build, parse

# CI runs the property tests on one fixed sequence of examples, so that whether a change
# lands does not depend on the draw; `make test` on a developer's machine explores anew.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


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


PROBLEMS = Path(__file__).resolve().parent.parent / "problems"


def network_0(wrt: str, grads: dict[str, str]) -> str:
    """Seed 004's network 0 as shipped, with ``wrt`` and only these claimed gradients."""
    shipped = (PROBLEMS / "seed-004-network-0.yaml").read_text()
    body = shipped[: shipped.index("wrt:")]
    claims = "".join(f"    {name}: {value}\n" for name, value in grads.items())
    return f"{body}wrt: {wrt}\nexpect:\n  grad:\n{claims}"
