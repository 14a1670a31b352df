"""Benchmarks for the performance targets of design.md (run with ``make bench``).

Times come from Python's own timers: whole processes through ``subprocess`` (median of
several runs), in-process work through ``time.perf_counter``. Never run as a test: a
timed assertion on a shared machine is a flaky test.

    python tests/bench.py            # every target
    python tests/bench.py cold mlp   # some of them
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GRADCHECK = str(Path(sys.executable).with_name("gradcheck"))
SEED = "1/(2+sin(w1*x1)**2+cos(w2*x2))"
SEED_AT = ["--at", "w1=-3", "--at", "x1=-2", "--at", "w2=2", "--at", "x2=-1"]


def whole_process(args: list[str], runs: int = 7, env: dict | None = None) -> float:
    """Median wall time of a whole gradcheck process, after one warm-up run."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        subprocess.run([GRADCHECK, *args], capture_output=True, env=env, check=False)
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def best_of(fn, repeat: int = 5) -> float:
    """The fastest of a few in-process runs (the least disturbed by the noisy machine)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def mlp(n_in: int, hidden: int, n_out: int, seed: int = 0):
    """A two-layer tanh network with quadratic loss, and values for it."""
    from gradcheck import problem

    rng = np.random.default_rng(seed)
    built = problem(
        "0.5 * sum((W2 @ tanh(W1 @ x + b1) + b2 - y)**2)",
        at=[
            f"W1=random({hidden}, {n_in})",
            f"b1=random({hidden})",
            f"W2=random({n_out}, {hidden})",
            f"b2=random({n_out})",
            f"x=random({n_in})",
            f"y=random({n_out})",
        ],
        wrt=["W1", "b1", "W2", "b2"],
    )
    scale = {"W1": 1 / np.sqrt(n_in), "W2": 1 / np.sqrt(hidden)}
    values = {n: rng.normal(size=built.shapes[n]) * scale.get(n, 1.0) for n in built.shapes}
    inputs = sum(int(np.prod(built.shapes[n])) for n in built.wrt)
    return built, values, inputs


def with_values(built, values):
    from dataclasses import replace

    return replace(built, values={n: np.asarray(v) for n, v in values.items()})


# ---------------------------------------------------------------- targets


def cold():
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "GRADCHECK_CACHE_DIR": cache}
        warm = whole_process(["eval", SEED, *SEED_AT], env=env)
    empty = whole_process(
        ["eval", SEED, *SEED_AT], env={**os.environ, "GRADCHECK_NO_CACHE": "1"}, runs=5
    )
    yield "cold eval of the seed expression (cache warm)", warm, 0.5, "s"
    yield "cold eval of the seed expression (no cache)", empty, None, "s"


def backprop_ratio():
    built, values, _ = mlp(300, 300, 10)
    program = built.program
    inputs = {n: v[None] for n, v in values.items()}

    def forward():
        program.forward(inputs)

    def backprop():
        program.backward(program.forward(inputs), built.wrt)

    f, b = best_of(forward, 50), best_of(backprop, 50)
    yield "backprop / forward pass, MLP 300-300-10 (93k weights)", (b - f) / f, 4.0, "x"


def full(n_in, hidden, n_out, target):
    def run():
        from gradcheck import Settings, check

        built, values, inputs = mlp(n_in, hidden, n_out)
        problem = with_values(built, values)
        start = time.perf_counter()
        (out,) = check(problem, Settings()).problems
        elapsed = time.perf_counter() - start
        assert out.status == "pass", (out.status, out.message, out.notes)
        yield (
            f"full check, every entry by central differences, {inputs:,} inputs",
            elapsed,
            target,
            "s",
        )

    return run


def directional():
    from gradcheck import Settings, check

    built, values, inputs = mlp(1000, 1000, 10)
    problem = with_values(built, values)
    start = time.perf_counter()
    (out,) = check(problem, Settings(mode="directional", probes=3)).problems
    elapsed = time.perf_counter() - start
    assert out.status == "pass", (out.status, out.message, out.notes)
    yield f"directional check, 3 probes, {inputs:,} inputs", elapsed, 1.0, "s"


def jacobian():
    """A vector-valued expression checked entry by entry over its whole Jacobian."""
    from gradcheck import Settings, check, problem

    built = problem("tanh(W @ x)", at=["W=random(100, 100)", "x=random(100)"])
    start = time.perf_counter()
    (out,) = check(built, Settings()).problems
    elapsed = time.perf_counter() - start
    assert out.status == "pass", (out.status, out.message)
    entries = sum(g.status.size for g in out.points[0].gradient.values())
    yield f"Jacobian of tanh(W @ x), W 100x100: {entries:,} entries, full check", elapsed, 2.0, "s"


PEER_MLP = "0.5*sum((W2 @ tanh(W1 @ X + b1) + b2 - Y)**2)"


def scale():
    """The peer benchmark's MLP (batch 8) from 10^2 to 10^5 inputs: gradcheck's full check
    against plain NumPy central differences over the same function (their time per entry
    measured on up to 2,000 entries, times the entries)."""
    from gradcheck import Settings, check, problem

    check(problem(PEER_MLP, at=["W1=random(2,2)", "b1=random(2,1)", "W2=random(1,2)",
                                "b2=random(1,1)", "X=random(2,8)", "Y=random(1,8)"]))  # fmt: skip
    for side in (9, 31, 99, 315):  # after a warm-up: SymPy and mpmath are imported once
        at = [f"W1=random({side},{side})", f"b1=random({side},1)", f"W2=random(1,{side})",
              "b2=random(1,1)", f"X=random({side},8)", "Y=random(1,8)"]  # fmt: skip
        built = problem(PEER_MLP, at=at, wrt=["W1", "b1", "W2", "b2"])
        start = time.perf_counter()
        (out,) = check(built, Settings()).problems
        ours = time.perf_counter() - start
        assert out.status == "pass", (out.status, out.message)
        inputs = side * side + 2 * side + 1
        theirs = _numpy_central(side) * inputs
        target = 10.0 if side == 315 else None
        yield f"peer MLP, {inputs:,} inputs: full check (s)", ours, target, "s"
        yield (
            f"peer MLP, {inputs:,} inputs: ... against NumPy central differences",
            ours / theirs,
            1.0,
            "x",
        )


def _numpy_central(side: int) -> float:
    """Seconds per entry of a plain NumPy central-difference loop over the peer MLP."""
    rng = np.random.default_rng(0)
    w1, b1 = rng.uniform(-2, 2, (side, side)), rng.uniform(-2, 2, (side, 1))
    w2, b2 = rng.uniform(-2, 2, (1, side)), rng.uniform(-2, 2, (1, 1))
    x, y = rng.uniform(-2, 2, (side, 8)), rng.uniform(-2, 2, (1, 8))

    def f():
        return 0.5 * np.sum((w2 @ np.tanh(w1 @ x + b1) + b2 - y) ** 2)

    flat = w1.reshape(-1)
    count = min(flat.size, 2000)
    start = time.perf_counter()
    for k in range(count):
        old = flat[k]
        h = 6e-6 * max(1.0, abs(old))
        flat[k] = old + h
        up = f()
        flat[k] = old - h
        down = f()
        flat[k] = old
        _ = (up - down) / (2 * h)
    return (time.perf_counter() - start) / count


def diff():
    """gradcheck diff of the top-level --help example, as a whole process."""
    for n in (3, 4):
        args = ["diff", "sum(sigmoid(W @ x)**2)", "--at", f"W=random({n},{n})", "--at",
                f"x=random({n})"]  # fmt: skip
        target = 2.0 if n == 3 else 5.0
        yield (
            f"diff of sum(sigmoid(W @ x)**2), W {n}x{n}, whole process",
            whole_process(args, 3),
            target,
            "s",
        )


def symbolic_truth():
    from gradcheck.engine import symbolic
    from gradcheck.engine.tape import evaluate

    built, values, inputs = mlp(30, 30, 3)
    os.environ["GRADCHECK_NO_CACHE"] = "1"
    start = time.perf_counter()
    tape = symbolic.tape_for(built.program, built.wrt)
    evaluate(tape, values)
    elapsed = time.perf_counter() - start
    del os.environ["GRADCHECK_NO_CACHE"]
    yield (
        f"symbolic ground truth, {inputs:,} inputs ({len(tape.code):,} tape steps)",
        elapsed,
        5.0,
        "s",
    )


def batch():
    """200-odd small problems (the shipped ones, repeated) checked with -j 2, whole process."""
    import shutil

    shipped = sorted((ROOT / "problems").rglob("*.yaml"))
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as cache:
        copies = 0
        while copies < 200:
            for path in shipped:
                shutil.copy(path, Path(folder) / f"{copies:03d}-{path.name}")
                copies += 1
        env = {**os.environ, "GRADCHECK_CACHE_DIR": cache}
        start = time.perf_counter()
        subprocess.run([GRADCHECK, "check", folder, "-j", "2"], capture_output=True, env=env)
        empty = time.perf_counter() - start
        warm = whole_process(["check", folder, "-j", "2"], runs=3, env=env)
    yield (
        f"check {copies} problems with -j 2, cache empty (problems per second)",
        copies / empty,
        None,
        "/s",
    )
    yield (
        f"check {copies} problems with -j 2, cache warm (problems per second)",
        copies / warm,
        None,
        "/s",
    )


def accuracy():
    """Across every entry of the shipped problems, against the 30-digit symbolic truth."""
    import warnings

    from gradcheck.source.files import find, load
    from gradcheck.tools.sweep import parse_steps, sweep

    warnings.simplefilter("ignore")
    steps = parse_steps("1e-1:1e-13:25")
    floor = 64 * np.finfo(float).eps
    ratio = {"central": [], "central (raw minimum)": [], "richardson": []}
    complex_errors, best_errors = [], []
    for path in find([str(ROOT / "problems")]):
        for built in load(path):
            if built.program.root.shape:  # a Jacobian: a sweep follows one derivative
                continue
            for name in built.wrt:
                for index in np.ndindex(built.shapes[name]):
                    result = sweep(built, name + (str(list(index)) if index else ""), steps)
                    methods = result.methods
                    for m in ("central", "richardson"):
                        ratio[m].append(methods[m].auto_error / max(methods[m].best_error, floor))
                    raw = float(np.nanmin(methods["central"].errors))
                    ratio["central (raw minimum)"].append(
                        methods["central"].auto_error / max(raw, floor)
                    )
                    offered = [
                        methods[m].auto_error
                        for m in ("central", "richardson", "complex")
                        if methods[m].auto_error is not None and np.isfinite(methods[m].auto_error)
                    ]
                    best_errors.append(min(offered))
                    if methods["complex"].errors is not None:
                        complex_errors.append(methods["complex"].auto_error)
    for m, values in ratio.items():
        yield (
            f"automatic {m} step: worst ratio to the sweep's best ({len(values)} entries)",
            max(values),
            10.0 if m == "central" else None,  # the issue holds the central step to 10x
            "x",
        )
    yield (
        f"complex step, worst relative error ({len(complex_errors)} analytic entries)",
        max(complex_errors),
        1e-14,
        "rel",
    )
    yield (
        f"best estimator per entry, worst relative error ({len(best_errors)} entries)",
        max(best_errors),
        1e-13,
        "rel",
    )


MLP_CODE = """
import numpy as np

_rng = np.random.default_rng(1)
X = _rng.standard_normal((100, 8))
Y = _rng.standard_normal((1, 8))


def loss(W1, b1, W2, b2):
    h = np.tanh(W1 @ X + b1)
    return 0.5 * np.sum((W2 @ h + b2 - Y) ** 2)


def grad(W1, b1, W2, b2):
    h = np.tanh(W1 @ X + b1)
    e = W2 @ h + b2 - Y
    dh = (W2.T @ e) * (1 - h**2)
    return {"W1": dh @ X.T, "b1": dh.sum(axis=1, keepdims=True), "W2": e @ h.T,
            "b2": e.sum(axis=1, keepdims=True)}


def big(x):
    with open(CALLS, "a") as f:
        f.write(".")
    return 0.5 * np.sum(np.sin(x) ** 2)


def big_grad(x):
    g = np.sin(x) * np.cos(x)
    g[123_457] *= 1.5
    return g
"""


def code():
    """gradcheck func: the worker's overhead, a full check against a plain NumPy loop over
    the same function, and bisection's count of calls at a million inputs."""
    from gradcheck.check import Settings
    from gradcheck.check_code import check_code
    from gradcheck.source.func import func_problem

    folder = Path(tempfile.mkdtemp())
    calls = folder / "calls.txt"
    module = folder / "mlp.py"
    module.write_text(MLP_CODE.replace("CALLS", repr(str(calls))))
    at = ["W1=random(99, 100)", "b1=random(99, 1)", "W2=random(1, 99)", "b2=random(1, 1)"]
    inputs = 99 * 100 + 99 + 99 + 1

    def gradcheck_full():
        problem = func_problem(f"{module}:loss", grad=f"{module}:grad", at=at)
        assert check_code(problem, Settings()).status == "pass"

    def numpy_loop():
        namespace: dict = {}
        exec(compile(MLP_CODE.replace("CALLS", "''"), "mlp", "exec"), namespace)
        rng = np.random.default_rng(0)
        values = {"W1": rng.uniform(-2, 2, (99, 100)), "b1": rng.uniform(-2, 2, (99, 1)),
                  "W2": rng.uniform(-2, 2, (1, 99)), "b2": rng.uniform(-2, 2, (1, 1))}  # fmt: skip
        for array in values.values():
            flat = array.reshape(-1)
            for k in range(flat.size):
                old, h = flat[k], 6e-6 * max(1.0, abs(flat[k]))
                flat[k] = old + h
                up = namespace["loss"](**values)
                flat[k] = old - h
                down = namespace["loss"](**values)
                flat[k] = old
                _ = (up - down) / (2 * h)

    ours, theirs = best_of(gradcheck_full, 3), best_of(numpy_loop, 3)
    yield f"func: full check of a NumPy MLP loss, {inputs:,} inputs (s)", ours, None, "s"
    yield "func: ... against a plain NumPy central-difference loop (ratio)", ours / theirs, 1.5, "x"

    small = ["W1=random(2, 100)", "b1=random(2, 1)", "W2=random(1, 2)", "b2=random(1, 1)"]

    def single():
        check_code(func_problem(f"{module}:loss", grad=f"{module}:grad", at=small), Settings())

    def worker_alone():
        from gradcheck.source.code import parse_ref
        from gradcheck.targets.worker import Worker

        with Worker(parse_ref(f"{module}:loss"), grad=parse_ref(f"{module}:grad")) as worker:
            rng = np.random.default_rng(0)
            worker.evaluate({"W1": rng.standard_normal((2, 100)), "b1": np.zeros((2, 1)),
                             "W2": np.ones((1, 2)), "b2": np.zeros((1, 1))})  # fmt: skip

    yield "func: a small check, whole (s)", best_of(single, 5), None, "s"
    overhead = best_of(worker_alone, 5)
    yield "func: the worker: started, one call, stopped (s)", overhead, 0.1, "s"
    problem = func_problem(f"{module}:big", grad=f"{module}:big_grad", at=["x=random(1000000)"])
    calls.write_text("")
    out = check_code(problem, Settings(mode="directional"))
    found = out.status == "fail" and out.points[0].gradient["x"].status.flat[123_457] == "fail"
    yield (
        f"func: one wrong entry in 1,000,000 {'found' if found else 'NOT FOUND'}, calls of f",
        len(calls.read_text()),
        100,
        "calls",
    )


TARGETS = {
    "cold": cold,
    "backprop": backprop_ratio,
    "symbolic": symbolic_truth,
    "full10k": full(90, 100, 10, 1.0),
    "full100k": full(790, 125, 10, 10.0),
    "directional": directional,
    "batch": batch,
    "accuracy": accuracy,
    "func": code,
    "jacobian": jacobian,
    "scale": scale,
    "diff": diff,
}

#: Targets that are rates: more is better.
AT_LEAST = {"check": 20.0}


def main(names: list[str]) -> int:
    print(f"{'measure':<72} {'value':>10} {'target':>8}")
    missed = 0
    for name in names or TARGETS:
        for label, value, target, unit in TARGETS[name]():
            if unit == "/s":
                target = AT_LEAST["check"]
                ok = "ok" if value >= target else "MISSED"
            else:
                ok = "" if target is None else ("ok" if value <= target else "MISSED")
            missed += ok == "MISSED"
            shown_target = "" if target is None else f"{target:g} {unit}"
            shown = f"{value:>8.3f}" if unit != "rel" else f"{value:>8.1e}"
            print(f"{label:<72} {shown} {unit} {shown_target:>8} {ok}", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
