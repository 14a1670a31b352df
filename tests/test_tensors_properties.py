"""Properties over random chains of ops drawn from the WHOLE table, on arrays of random
rank and shape, with random axes, keywords, slices and labels: backprop agrees with
central differences written here, with the symbolic tape, and perturbed copies agree with
whole evaluations. A wrong rule anywhere in the table fails one of these."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck.engine import symbolic
from gradcheck.engine.ops import OPS
from gradcheck.engine.perturb import Perturbation
from gradcheck.engine.tape import evaluate

from .conftest import batched, program

PROPERTY = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))

# Arguments inside an op's domain, whatever the value: tanh keeps them in (-1, 1).
DOMAIN = {
    **dict.fromkeys(["log", "log1p", "log2", "log10", "sqrt"], "(1.5 + tanh({x}))"),
    **dict.fromkeys(["asin", "acos", "atanh"], "(0.8 * tanh({x}))"),
    "acosh": "(2.5 + tanh({x}))",
    "exp": "tanh({x})",
    "expm1": "tanh({x})",
    "sinh": "tanh({x})",
    "cosh": "tanh({x})",
    "tan": "tanh({x})",
    "reciprocal": "(2 + tanh({x}))",
    "cbrt": "(1.5 + tanh({x}))",
}

# Written with an operator, or with arguments besides the array: one template each, {x}
# standing for the expression it applies to.
TEMPLATES = {
    "add": "({x} + 0.75)",
    "sub": "(0.5 - {x})",
    "mul": "({x} * {x})",
    "div": "({x} / (2 + tanh({x})))",
    "pow": "(1.5 + tanh({x})) ** 1.5",
    "neg": "-({x})",
    "max": "max({x}, 0.2)",
    "min": "min(-0.1, {x})",
    "leaky_relu": "leaky_relu({x}, 0.2)",
    "gt": "(({x} > 0.1) * {x})",
    "ge": "(({x} >= 0.1) * {x})",
    "lt": "(({x} < 0.1) * {x})",
    "le": "(({x} <= 0.1) * {x})",
    "eq": "(({x} == 0.1) + {x})",
    "ne": "(({x} != 0.1) * {x})",
    "where": "where({x} > 0.1, {x}, 0.3 * {x})",
    "clip": "clip({x}, -0.7, 0.8)",
    "dot": "dot({x}, {x})",
    "outer": "outer({x}, 2 * {x})",
    "stack": "stack([{x}, 2 * {x}], axis={a1})",
    "concatenate": "concatenate([{x}, {x}], axis={a})",
    "ravel": "ravel({x})",
    "transpose": "transpose({x}, {perm})",
    "swapaxes": "swapaxes({x}, {a}, {b})",
    "expand_dims": "expand_dims({x}, {a1})",
    "squeeze": "squeeze(expand_dims({x}, {a1}), {a1})",
    "flip": "flip({x}, {a})",
    "roll": "roll({x}, 1, axis={a})",
    "repeat": "repeat({x}, 2, axis={a})",
    "tile": "tile({x}, (2, 1))",
    "reshape": "reshape({x}, {reversed})",
    "zeros": "({x} + zeros({shape}))",
    "ones": "({x} * ones({shape}))",
    "arange": "({x} * arange(1, {after}))",
    "one_hot": "(sum(one_hot([0, 2], 3)) * {x})",
    "index": "{x}[{slice}]",
}


def _square(shape) -> bool:
    return len(shape) == 2 and shape[0] == shape[1]


# Only for some shapes: (template, whether the shape admits it).
SHAPED = {
    "matmul": ("({x} @ (reshape(arange({last2}), ({last}, 2)) / 10))", lambda s: len(s) >= 1),
    "diag": ("diag({x})", lambda s: len(s) == 1 or (len(s) == 2 and s[0] > 0)),
    "triu": ("triu({x})", lambda s: len(s) >= 2),
    "tril": ("tril({x}, -1)", lambda s: len(s) >= 2 and s[-2] > 1),
    "eye": ("({x} * eye({rows}, {last}))", lambda s: len(s) >= 2),
    "trace": ("trace({x})", lambda s: len(s) == 2 and s[0] == s[1]),
    "det": ("det({x} + 10 * eye({last}))", lambda s: len(s) == 2 and s[0] == s[1]),
    "inv": ("inv({x} + 10 * eye({last}))", lambda s: len(s) == 2 and s[0] == s[1]),
    "take_along": ("take_along({x}, {labels}, axis=-1)", lambda s: len(s) >= 1),
    "einsum": (
        'einsum("ij,jk->ik", {x}, reshape(arange({last2}), ({last}, 2)) / 10)',
        lambda s: len(s) == 2,
    ),
    "kron": ("kron({x}, [[1.0, 0.5], [0.25, 2.0]])", lambda s: len(s) == 2),
    "matrix_power": ("matrix_power({x} / 10 + eye({last}), 2)", _square),
    "solve": ("solve({x} + 10 * eye({last}), arange({last}) / 3)", _square),
    "logdet": ("logdet({x} + 10 * eye({last}))", _square),
    "slogdet": ("slogdet({x} + 10 * eye({last}))", _square),
    "pinv": ("pinv({x} + 10 * eye({last}))", _square),
    "cumsum": ("cumsum({x}, axis=-1)", lambda s: len(s) >= 1),
    "cumprod": ("cumprod(1.5 + tanh({x}), axis=-1)", lambda s: len(s) >= 1),
    "conv2d": ("conv2d({x}, ones((2, {channels}, 2, 2)) / 4, padding=1)", lambda s: len(s) == 4),
    "max_pool2d": ("max_pool2d({x}, 2, 1)", lambda s: len(s) == 4 and min(s[2:]) >= 2),
}
#: A shape to start from for an op that takes few (images, for convolution).
FIRST_SHAPE = {"conv2d": (1, 2, 3, 3), "max_pool2d": (1, 1, 3, 3)}
REDUCTIONS = ["sum", "mean", "prod", "amax", "amin", "logsumexp", "norm", "var", "std"]
NORMALISATIONS = ["softmax", "log_softmax"]


def test_every_op_in_the_table_can_be_drawn():
    drawable = (
        set(TEMPLATES) | set(SHAPED) | set(REDUCTIONS) | set(NORMALISATIONS) | set(ELEMENTWISE)
    )
    assert drawable == set(OPS), set(OPS) ^ drawable


ELEMENTWISE = [
    name
    for name, op in OPS.items()
    if op.elementwise and op.public and op.arity == (1, 1) and name not in TEMPLATES
]


#: Ops that need an axis, which a scalar does not have.
NEEDS_AXIS = {"flip", "roll", "repeat", "concatenate", "swapaxes"}


@st.composite
def step(draw, shape, name=None):
    """One op (drawn from the whole table unless given), applied to an expression of
    ``shape``: (template with {x} for the expression, output shape)."""
    name = name or draw(st.sampled_from(sorted(OPS)))
    rank = len(shape)
    if (name in SHAPED and not SHAPED[name][1](shape)) or (name in NEEDS_AXIS and not rank):
        name = "sum"
    if name in ELEMENTWISE:
        return f"{name}({DOMAIN.get(name, '{x}')})", shape
    if name in REDUCTIONS or name in NORMALISATIONS:
        return reduction(draw, name, shape)
    if name in SHAPED:
        return shaped(draw, name, shape)
    fields = {
        "a": draw(st.integers(0, max(rank - 1, 0))),
        "b": draw(st.integers(-rank, max(rank - 1, 0))),
        "a1": draw(st.integers(0, rank)),
        "perm": tuple(draw(st.permutations(range(rank)))) if rank else "()",
        "reversed": tuple(shape[::-1]) or "()",
        "shape": tuple(shape) or "()",
        "last": shape[-1] if shape else 1,
        "after": (shape[-1] if shape else 1) + 1,
        "slice": draw(st.sampled_from(slices(shape))),
    }
    text = TEMPLATES[name].format(x="{x}", **fields)
    return text, program(text.format(x="x"), x=shape).root.shape


def slices(shape) -> list[str]:
    """Subscripts of every kind for an array of ``shape``."""
    if not shape:
        return ["...", "None"]
    first = shape[0]
    labels = f"arange({first}), 0" if len(shape) > 1 else f"arange({first})"
    out = ["::-1", f"{first - 1}", "..., 0", "None", f"[0, {first - 1}, 0]", labels]
    return [*out, f"1:{first}"] if first > 1 else out


def reduction(draw, name, shape):
    rank = len(shape)
    axes = sorted(draw(st.sets(st.integers(0, max(rank - 1, 0)), max_size=rank))) if rank else []
    axis = None if not axes else axes[0] if len(axes) == 1 else tuple(axes)
    count = math.prod(shape) if axis is None else math.prod(shape[a] for a in axes)
    if name in ("norm", "std") and count < 2:
        axis = None  # no derivative where every entry combined is one entry alone
        if math.prod(shape) < 2:
            return "sum({x})", ()
    called = {"amax": "max", "amin": "min"}.get(name, name)
    keyword = "" if axis is None else f", axis={axis}"
    if name not in NORMALISATIONS and draw(st.booleans()):
        keyword += ", keepdims=True"
    text = f"{called}({{x}}{keyword})"
    return text, program(text.format(x="x"), x=shape).root.shape


def shaped(draw, name, shape):
    template, _ = SHAPED[name]
    labels = np.zeros((*shape[:-1], 2), dtype=int) if shape else None
    if shape:
        labels[..., 1] = shape[-1] - 1
    fields = {
        "last": shape[-1] if shape else 1,
        "last2": 2 * shape[-1] if shape else 2,
        "rows": shape[-2] if len(shape) > 1 else 1,
        "labels": labels.tolist() if shape else [],
        "channels": shape[1] if len(shape) > 1 else 1,
    }
    text = template.format(x="{x}", **fields)
    return text, program(text.format(x="x"), x=shape).root.shape


@st.composite
def chains(draw, first: str):
    """The op ``first`` on an array of a shape it takes, then up to two ops more."""
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=3)))
    if first in SHAPED and not SHAPED[first][1](shape):
        shape = FIRST_SHAPE.get(first, (2, 2))
    if first in NEEDS_AXIS and not shape:
        shape = (2,)
    text, current = "x", shape
    for k in range(draw(st.integers(1, 3))):
        template, current = draw(step(current, first if k == 0 else None))
        text = template.format(x=text if text == "x" else f"({text})")  # x ** 2[0]
        if math.prod(current) > 64:
            break
    return text, shape, current, draw(st.integers(0, 2**16))


def values(shape, seed):
    """Distinct values away from 0 (no ties), off any constant of the templates."""
    rng = np.random.default_rng(seed)
    size = math.prod(shape)
    spaced = (np.arange(size) + rng.uniform(0.2, 0.8, size=size)) / size * 1.8 + 0.35
    return (rng.permutation(spaced) * rng.choice([-1.0, 1.0], size=size)).reshape(shape)


def central(p, point, h=1e-6):
    x = point["x"]
    out = np.zeros_like(x)
    for k in range(x.size):
        plus, minus = x.copy(), x.copy()
        plus.flat[k] += h
        minus.flat[k] -= h
        up = p.value(batched(x=plus, G=point["G"]))[0]
        down = p.value(batched(x=minus, G=point["G"]))[0]
        out.flat[k] = (up - down) / (2 * h)
    return out


@pytest.mark.parametrize("first", sorted(OPS))
@PROPERTY
@given(data=st.data())
def test_backprop_differences_symbolic_and_perturbation_agree(first, data):
    text, shape, out_shape, seed = data.draw(chains(first), label="chain")
    p = program(f"sum(({text}) * G)", x=shape, G=out_shape)
    point = {"x": values(shape, seed), "G": np.random.default_rng(seed + 1).normal(size=out_shape)}
    now = p.forward(batched(**point))
    assert_perturbed_copies_agree(p, point, now)
    # exactly on a switch (std of equal entries, heaviside of a heaviside) no derivative
    # need exist: the checker calls it a kink; elsewhere every estimate must agree
    if not np.isfinite(now[p.output][0]) or 0 in p.switch_distances(now).values():
        return
    _, grads = p.gradient(batched(**point), ["x"])
    numeric = central(p, point)
    scale = max(1.0, abs(now[p.output][0]), float(np.max(np.abs(numeric), initial=0)))
    np.testing.assert_allclose(grads["x"][0], numeric, rtol=1e-4, atol=1e-5 * scale, err_msg=text)
    if symbolic.expanded_size(p) <= 2000:
        sym_value, sym = evaluate(symbolic.tape_for(p, ["x"]), point)
        assert sym_value == pytest.approx(float(now[p.output][0]), rel=1e-9, abs=1e-12), text
        if "sinc(" in text:  # SymPy's derivative of sinc is 0/0 at exactly 0 (relu6(-1))
            sym["x"] = np.where(np.isnan(sym["x"]), grads["x"][0].ravel(), sym["x"])
        np.testing.assert_allclose(sym["x"], grads["x"][0].ravel(), rtol=1e-8, atol=1e-10 * scale)


def assert_perturbed_copies_agree(p, point, now):
    at = np.arange(point["x"].size)
    moved = point["x"].ravel() + 1e-4
    got, _ = Perturbation(p, now, "x")(at, moved)
    for k in at[:4]:
        x = point["x"].copy()
        x.flat[k] = moved[k]
        expected = p.value(batched(x=x, G=point["G"]))[0]
        assert got[k] == pytest.approx(expected, rel=1e-12, abs=1e-13, nan_ok=True)
