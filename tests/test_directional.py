"""Directional probes: a correct gradient passes at any size and magnitude (JAX's probe
fails at a million inputs), and a wrong one fails."""

import math
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck import Settings, check, problem
from gradcheck.engine.ops import OPS

MLP = "0.5*sum((W2 @ tanh(W1 @ X + b1) + b2 - Y)**2)"


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    size=st.floats(math.log10(30), 6),
    scale=st.floats(0.1, 3.0),
    seed=st.integers(0, 2**16),
)
def test_a_correct_gradient_passes_at_any_size_and_magnitude(size, scale, seed):
    # a one-hidden-layer tanh MLP with about 10**size inputs, its weights scaled up to a few
    # units: the gradient is backprop's own, so every probe must pass
    side = max(2, round(math.sqrt(10**size)))
    at = [
        f"W1=random({side},{side})",
        f"b1=random({side},1)",
        f"W2=random(1,{side})",
        "b2=random(1,1)",
        f"X=random({side},8)",
        "Y=random(1,8)",
    ]
    built = problem(f"0.5*sum((W2 @ tanh({scale!r} * W1 @ X + b1) + b2 - Y)**2)", at=at)
    (out,) = check(built, Settings(mode="directional", probes=3, seed=seed)).problems
    assert out.status == "pass", [p.cause for p in out.points[0].probes]


def test_the_reproduction_of_the_false_failure_at_a_million_inputs_passes():
    at = [
        "W1=random(999,999)",
        "b1=random(999,1)",
        "W2=random(1,999)",
        "b2=random(1,1)",
        "X=random(999,8)",
        "Y=random(1,8)",
    ]
    built = problem(MLP, at=at, wrt=["W1", "b1", "W2", "b2"])
    (out,) = check(built, Settings(mode="directional", probes=3)).problems
    assert out.status == "pass"


def test_a_planted_wrong_rule_fails_a_probe_at_scale(monkeypatch):
    wrong = replace(OPS["tanh"], vjps=(lambda g, o, x: g * (1 - o),))  # 1 - o, not 1 - o**2
    monkeypatch.setitem(OPS, "tanh", wrong)
    at = ["W1=random(300,300)", "b1=random(300,1)", "W2=random(1,300)", "b2=random(1,1)"]
    at += ["X=random(300,8)", "Y=random(1,8)"]
    built = problem(MLP, at=at, wrt=["W1", "b1", "W2", "b2"])
    (out,) = check(built, Settings(mode="directional", probes=3)).problems
    assert out.status == "fail"
