"""gradcheck trace: the graph node by node, checked against the seeds' hand computations."""

import json
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck import problem
from gradcheck.cli.main import main
from gradcheck.engine.graph import align
from gradcheck.engine.ops import OPS
from gradcheck.source.files import load
from gradcheck.tools.trace import JACOBIAN_LIMIT, trace

from .conftest import network_0
from .test_ops import CASES

SEED_000 = "1/((sin(w1*x1)**2 + cos(w2*x2)) + 2)"  # grouped as seed 000 Q1 adds them
SEED_000_AT = ["--at", "w1=-3", "--at", "x1=-2", "--at", "w2=2", "--at", "x2=-1"]
NETWORK_0 = "problems/seed-004-network-0.yaml"


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def nodes_of(output: str) -> dict[str, dict]:
    return {node["name"]: node for node in json.loads(output)["nodes"]}


def by_operation(nodes: dict[str, dict], operation: str) -> dict:
    (node,) = [n for n in nodes.values() if n["operation"] == operation]
    return node


def write(tmp_path, text: str, name: str = "p.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


# ---------------------------------------------------------------- the seeds, from the JSON


def test_seed_000_node_values_and_local_gradients():
    result = run("trace", SEED_000, *SEED_000_AT, "--format", "json")
    assert result.exit_code == 0, result.output
    nodes = nodes_of(result.stdout)
    values = [n["value"] for n in nodes.values() if n["op"] not in ("input", "const")]
    # The seed prints: W1*X1, sin, sin^2, W2*X2, cos, sin^2 + cos, + 2, 1/(...)
    seed = [6, -0.2794, 0.07807, -2, -0.41615, -0.33807, 1.66193, 0.60171]
    np.testing.assert_allclose(values, seed, atol=6e-5)
    local = {n["operation"]: n["local"] for n in nodes.values()}
    assert local["1 / t7"]["t7"] == pytest.approx(-0.36206, abs=5e-6)  # inverse
    assert local["t6 + 2"]["t6"] == 1  # linear
    assert local["t3 + t5"] == {"t3": 1, "t5": 1}  # distributor
    assert local["t2 ** 2"]["t2"] == pytest.approx(-0.55883, abs=5e-6)  # square
    assert local["sin(t1)"]["t1"] == pytest.approx(0.96017, abs=5e-6)  # sine
    assert local["cos(t4)"]["t4"] == pytest.approx(0.90930, abs=5e-6)  # cosine: -sin(-2)
    # and backprop's answers, dw1, dw2, dx1, dx2 as the seed prints them
    grads = {n: nodes[n]["adjoint"] for n in ("w1", "w2", "x1", "x2")}
    expected = {"w1": -0.3885395959, "w2": 0.3292171883, "x1": -0.5828093939, "x2": -0.6584343766}
    assert grads == pytest.approx(expected, abs=1e-10)


def test_seed_000_formulas_are_the_local_derivative_rules():
    result = run("trace", SEED_000, *SEED_000_AT, "--format", "json")
    formulas = {n["operation"]: n["formula"] for n in nodes_of(result.stdout).values()}
    assert formulas["w1 * x1"] == {"w1": "x1", "x1": "w1"}  # the switcher node
    assert formulas["t2 ** 2"] == {"t2": "2*t2"}
    assert formulas["1 / t7"] == {"t7": "-1/t7**2"}
    assert formulas["cos(t4)"] == {"t4": "-sin(t4)"}


def test_seed_004_network_0_snapshot():
    result = run("trace", NETWORK_0, "--jacobians", "--format", "json")
    assert result.exit_code == 0, result.output
    nodes = nodes_of(result.stdout)
    # Forward pass
    assert nodes["x"]["value"] == [-1, 2]
    assert nodes["p"]["value"] == [-2, 5, 3]
    assert nodes["q"]["value"] == [0, 5, 3]
    assert nodes["z"]["value"] == [0, 3]
    assert nodes["f"]["value"] == 10
    # Gradients
    assert nodes["z"]["adjoint"] == [4, 2]  # gz
    assert nodes["q"]["adjoint"] == [14, 2, -8]  # gq
    assert nodes["p"]["adjoint"] == [0, 2, -8]  # gp
    assert nodes["V2"]["adjoint"] == [[0, 20, 12], [0, 10, 6]]  # gv2
    assert nodes["b2"]["adjoint"] == [4, 2]  # gb2
    assert nodes["V1"]["adjoint"] == [[0, 0], [-2, 4], [8, -16]]  # gv1
    assert nodes["b1"]["adjoint"] == [0, 2, -8]  # gb1
    # Local Jacobians, d out / d in shaped (*out, *in) as the seed prints them
    second = by_operation(nodes, "V2 @ q")
    assert second["local"]["V2"] == [[[0, 5, 3], [0, 0, 0]], [[0, 0, 0], [0, 5, 3]]]  # jv2
    assert second["local"]["q"] == [[2, 1, -3], [3, -1, 2]]  # jq
    assert nodes["z"]["local"]["b2"] == [[1, 0], [0, 1]]  # jb2
    assert nodes["q"]["local"]["p"] == [[0, 0, 0], [0, 1, 0], [0, 0, 1]]  # jp
    first = by_operation(nodes, "V1 @ x")
    jv1 = [[[-1, 2], [0, 0], [0, 0]], [[0, 0], [-1, 2], [0, 0]], [[0, 0], [0, 0], [-1, 2]]]
    assert first["local"]["V1"] == jv1
    assert nodes["p"]["local"]["b1"] == np.eye(3).tolist()  # jb1
    assert nodes["x"]["op"] == "input" and nodes["x"]["adjoint"] is None  # not differentiated


def test_inputs_are_nodes_and_every_input_name_is_a_node():
    nodes = nodes_of(run("trace", NETWORK_0, "--format", "json").stdout)
    for node in nodes.values():
        assert set(node["inputs"]) <= set(nodes)
    assert [n for n, node in nodes.items() if node["op"] == "input"] == [
        "V1", "x", "b1", "V2", "b2", "y"
    ]  # fmt: skip
    assert by_operation(nodes, "0.5 * t5")["inputs"] == ["0.5", "t5"]


def test_without_jacobians_array_nodes_show_entrywise_locals_only():
    nodes = nodes_of(run("trace", NETWORK_0, "--format", "json").stdout)
    assert nodes["q"]["local_form"] == {"p": "entrywise"}
    assert nodes["q"]["local"]["p"] == [0, 1, 1]  # the diagonal of jp
    second = by_operation(nodes, "V2 @ q")
    assert second["local"] == {"V2": None, "q": None}
    assert second["passes"]["q"] == [14, 2, -8]


# ---------------------------------------------------------------- wrong claims


def network(**grads) -> str:
    return network_0("[V1, b1, V2, b2]", grads)


@pytest.mark.parametrize(
    ("claims", "first", "words"),
    [
        # the relu's local derivative dropped: gp = gq
        ({"z": "[4, 2]", "q": "[14, 2, -8]", "p": "[14, 2, -8]"}, "p", "q = 'relu(p)' (line 7"),
        # gz from a loss without the 1/2
        ({"z": "[8, 4]", "q": "[28, 4, -16]"}, "z", "times 2"),
        # V2 used untransposed for gq = V2^T gz is not even the right shape; a sign slip
        ({"z": "[4, 2]", "q": "[-14, -2, 8]"}, "q", "sign is flipped"),
        # an input's gradient wrong while the intermediate claimed is right: gq x^T
        ({"q": "[14, 2, -8]", "V1": "[[-14, 28], [-2, 4], [8, -16]]"}, "V1", "relu(p)"),
    ],
)
def test_the_first_wrong_claimed_adjoint_is_located_and_explained(tmp_path, claims, first, words):
    text = network(**claims)
    result = run("trace", write(tmp_path, text), "--format", "json")
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    assert out["status"] == "fail"
    assert out["first_wrong"] == first
    assert words in out["explanation"] or words in json.dumps(out["nodes"])
    statuses = {n["name"]: n["claimed"]["status"] for n in out["nodes"] if n["claimed"]}
    assert statuses[first] == "fail"


def test_a_wrong_local_derivative_is_named_with_the_one_the_claim_needs(tmp_path):
    path = write(
        tmp_path,
        """\
        let:
          s: sin(w1*x1)
          s2: s^2
          d: s2 + cos(w2*x2) + 2
        expr: 1/d
        at: {w1: -3, x1: -2, w2: 2, x2: -1}
        expect:
          grad:
            d: -0.36206
            s2: -0.36206
            s: 0.1
        """,
    )
    (built,) = load(path)
    result = trace(built)
    assert result.first_wrong == "s"
    assert "d s2/d s = -0.362057 × -0.558831 = 0.202328" in result.explanation
    assert "needs d s2/d s = -0.2762" in result.explanation
    assert "d f/d s2 holds as claimed" in result.explanation


def test_a_forgotten_branch_is_recognised(tmp_path):
    path = write(
        tmp_path,
        "let:\n  u: x*y\nexpr: u + sin(u)\nat: {x: 2, y: 3}\nexpect:\n  grad:\n    u: 1\n",
    )
    (built,) = load(path)
    result = trace(built)
    assert result.first_wrong == "u"
    assert "u is used 2 times" in result.explanation
    assert "t1 = sin(u) (0.96017) passes back is missing" in result.explanation


def test_the_seeds_hand_backprop_through_the_sigmoid_is_caught_at_s():
    # seed 000 Q2 passed 2q = 1.995 on through sigmoid(W x) as if it were W x
    result = run("trace", "problems/mistakes/seed-000-q2-hand-backprop.yaml", "--format", "json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["first_wrong"] == "s"
    assert "local derivative of q = 'sigmoid(s)'" in out["explanation"]
    assert nodes_of(result.stdout)["q"]["claimed"]["status"] == "pass"
    assert nodes_of(result.stdout)["q"]["formula"] == {"s": "q*(1 - q)"}


def test_right_claims_pass_and_exit_0(tmp_path):
    text = network(z="[4, 2]", q="[14, 2, -8]", p="[0, 2, -8]")
    result = run("trace", write(tmp_path, text))
    assert result.exit_code == 0, result.output
    assert "every claimed adjoint holds" in result.stdout


def test_the_rich_layout_marks_the_first_wrong_node(tmp_path):
    text = network(q="[14, 2, -8]", p="[14, 2, -8]")
    result = run("trace", write(tmp_path, text), "--no-color")
    assert result.exit_code == 1
    out = result.stdout
    assert "forward" in out and "backward" in out
    assert "  p ←  " in out
    assert "d f/d p is the first wrong claim, going backward: p[0] claimed 14, true 0" in out
    assert "\x1b[" not in out


# ---------------------------------------------------------------- local derivatives


@pytest.mark.parametrize(("text", "values"), CASES, ids=[c[0] for c in CASES])
def test_local_jacobians_match_finite_differences_of_each_node(text, values):
    built = problem(text, at=[f"{n}={np.asarray(v).tolist()}" for n, v in values.items()])
    result = trace(built, jacobians=True)
    program = built.program
    now = program.forward({n: np.asarray(v, float)[None] for n, v in values.items()})
    checked = 0
    for traced in result.nodes:
        node = program.nodes[traced.index]
        for local in traced.local:
            if traced.inputs.count(local.input) > 1:
                continue  # x * x: the two derivatives are summed
            k = traced.inputs.index(local.input)
            args = [now[j][0] for j in program.args[traced.index]]
            numeric = _numeric_jacobian(node, args, k)
            message = f"d {traced.name}/d {local.input}"
            np.testing.assert_allclose(
                local.derivative, numeric, rtol=1e-5, atol=1e-6, err_msg=message
            )
            # and what passes back is the adjoint contracted with the Jacobian
            passes = np.tensordot(traced.adjoint, local.derivative, axes=traced.adjoint.ndim)
            np.testing.assert_allclose(local.passes, passes, rtol=1e-12, atol=1e-12)
            checked += 1
    assert checked >= 1


def _numeric_jacobian(node, args, k, h=1e-6):
    """Central differences of the node's own operation in its argument k."""
    op = OPS[node.op]

    def forward(arg):
        now = [a[None] for a in args]
        now[k] = arg[None]
        if op.elementwise:
            now = [align(a, x.shape, node.shape) for a, x in zip(now, node.args)]
        return op.forward(*now)[0]

    base = np.asarray(args[k], dtype=float)
    columns = []
    for m in range(base.size):
        step = np.zeros(base.size)
        step[m] = h * max(1.0, abs(base.flat[m]))
        step = step.reshape(base.shape)
        columns.append((forward(base + step) - forward(base - step)) / (2 * step.flat[m]))
    return np.stack(columns, axis=-1).reshape((*node.shape, *base.shape))


# ---------------------------------------------------------------- names and shapes


def test_generated_names_never_clash_with_the_users():
    result = trace(problem("t1 * sin(t2) + f", at=["t1=1", "t2=2", "f=3"]))
    names = [n.name for n in result.nodes]
    assert len(names) == len(set(names))
    assert {"t1", "t2", "f"} <= set(names)
    output = result.nodes[-1]
    assert output.name not in ("t1", "t2", "f") and output.operation.endswith("+ f")


def test_a_constant_written_twice_is_one_node():
    result = trace(problem("x**2 + y**2", at=["x=1", "y=2"]))
    assert [n.name for n in result.nodes].count("2") == 1


def test_an_index_is_an_input_with_no_local_derivative():
    result = trace(problem("W[i, 1] * x", at=["W=[[1, 2], [3, 4]]", "i=1", "x=5"]))
    indexed = next(n for n in result.nodes if n.op == "index")
    assert indexed.operation == "W[i, 1]"
    assert [loc.input for loc in indexed.local] == ["W"]
    np.testing.assert_array_equal(
        indexed.local[0].derivative, [[0, 0], [0, 5]][1:][0] and [[0, 0], [0, 1]]
    )
    assert result.node("i").adjoint is None


def test_an_input_used_twice_gets_one_summed_local_derivative():
    result = trace(problem("x * x", at=["x=3"]))
    (local,) = result.nodes[-1].local
    assert (local.input, float(local.derivative), float(local.passes)) == ("x", 6.0, 6.0)
    assert local.formula == "2*x"


def test_wrt_limits_the_backward_pass():
    result = run("trace", "x * y", "--at", "x=2", "--at", "y=3", "--wrt", "x", "--format", "json")
    nodes = nodes_of(result.stdout)
    assert nodes["x"]["adjoint"] == 3 and nodes["y"]["adjoint"] is None
    assert nodes["f"]["local"] == {"x": 3}


def test_random_values_are_named_with_their_seed():
    result = run("trace", "sin(x) * y", "--seed", "7", "--no-color")
    assert result.exit_code == 0
    assert "drawn at random: x, y (seed 7)" in result.stdout
    again = run("trace", "sin(x) * y", "--seed", "7", "--format", "json")
    assert json.loads(again.stdout)["random"] == ["x", "y"]


def test_a_large_jacobian_is_left_out_with_a_note():
    side = int(JACOBIAN_LIMIT**0.5) + 1
    built = problem("sum(W @ x)", at=[f"W=random({side}, {side})", f"x=random({side})"])
    result = trace(built, jacobians=True)
    matmul = next(n for n in result.nodes if n.op == "matmul")
    assert {loc.form for loc in matmul.local} == {"omitted"}
    assert any("left out" in note for note in result.notes)
    assert matmul.local[0].passes.shape == (side, side)  # what passes back is still there


# ---------------------------------------------------------------- outputs


def test_dot_holds_every_node_and_edge(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no Graphviz
    out = tmp_path / "graph.dot"
    result = run("trace", NETWORK_0, "--dot", str(out), "--format", "json")
    assert result.exit_code == 0
    assert "install Graphviz" in result.stderr and str(out) in result.stderr
    dot = out.read_text()
    assert dot.startswith("digraph gradcheck {") and dot.rstrip().endswith("}")
    nodes = json.loads(result.stdout)["nodes"]
    assert dot.count(" -> ") == sum(len(set(n["inputs"])) for n in nodes)
    assert "q = relu(p)<BR/>[0, 5, 3]<BR/>" in dot and "[14, 2, -8]" in dot


def test_dot_is_rendered_when_graphviz_is_there(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dot"  # writes its -o file, as Graphviz does
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "-o" ]; do shift; done\necho drawn > "$2"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    result = run("trace", SEED_000, *SEED_000_AT, "--dot", str(tmp_path / "g.dot"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g.svg").read_text() == "drawn\n"
    assert (tmp_path / "g.png").exists()
    picture = run("trace", SEED_000, *SEED_000_AT, "--dot", str(tmp_path / "h.svg"))
    assert picture.exit_code == 0
    assert (tmp_path / "h.dot").exists() and (tmp_path / "h.svg").exists()


def test_a_picture_without_graphviz_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = run("trace", SEED_000, "--dot", str(tmp_path / "g.png"))
    assert result.exit_code == 2
    assert "needs Graphviz's dot program" in result.stderr


def test_latex_table():
    result = run("trace", SEED_000, *SEED_000_AT, "--latex")
    assert result.exit_code == 0
    latex = result.stdout
    assert latex.startswith(r"\begin{tabular}") and latex.rstrip().endswith(r"\end{tabular}")
    assert (
        r"$f$ & $\frac{1}{t_{7}}$ & $0.601711$ & $1$ & $\partial f / \partial t_{7} = -0.362057$"
        in latex
    )
    assert r"$t_{2}$ & $\sin\left(t_{1}\right)$" in latex
    network = run("trace", NETWORK_0, "--latex").stdout
    assert (
        r"$q$ & $\operatorname{relu}\left(p\right)$ & $\begin{bmatrix} 0 & 5 & 3 \end{bmatrix}$"
        in network
    )


def test_the_view_lays_out_values_then_adjoints():
    text = run("trace", NETWORK_0, "--no-color").stdout
    forward, backward = text.split("backward", 1)
    assert "forward" in forward
    rows = {line.split()[0]: line for line in forward.splitlines()[3:] if line.strip()}
    assert "relu(p)" in rows["q"] and "[0, 5, 3]" in rows["q"]
    assert "t1 + b1" in rows["p"] and "[-2, 5, 3]" in rows["p"]
    q_row = next(line for line in backward.splitlines() if line.startswith("  q "))
    assert "[14, 2, -8]" in q_row and "Heaviside(p) = [0, 1, 1]" in q_row and "[0, 2, -8]" in q_row


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["x +* y"], "column"),
        (["sin(x) * q", "--at", "x=1", "--wrt", "z"], "z"),
        ([NETWORK_0, "--at", "x=1"], "go with an expression"),
        ([NETWORK_0, "--problem", "nope"], "holds no problem 'nope'"),
        (["log(x)", "--at", "x=-1"], "log"),
        (["sum(W @ x)", "--at", "W=[[1, 2]]", "--at", "x=[1, 2, 3]"], "shape"),
    ],
)
def test_bad_input_is_one_message_and_exit_2(args, words):
    result = run("trace", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and words in result.stderr
    assert "Traceback" not in result.output


def test_brackets_in_user_text_are_shown_not_taken_for_markup():
    out = run("trace", "softmax([a, b, c])[0]", "--no-color").stdout
    assert "[a, b, c]" in out and "softmax([a, b, c])[0]" in out
    claims = run("eval", "x*y", "--claim", "x=[y, 1][0]", "--no-color").stdout
    assert "[y, 1][0]" in claims


@pytest.mark.parametrize(
    ("source", "words"),
    [("missing.yaml", "missing.yaml: no such file"), ("problems/", "problems/ is a folder")],
)
def test_a_file_that_is_not_there_is_named(source, words):
    for command in ("trace", "sweep"):
        result = run(command, source)
        assert result.exit_code == 2 and words in result.stderr


def test_a_matrix_of_up_to_400_entries_is_shown_row_by_row_not_summarised():
    at = "W=[[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], [13, 14, 15, 16, 17, 18]]"
    out = run("trace", "sum(W @ x)", "--at", at, "--at", "x=random(6)", "--no-color").stdout
    assert "[7, 8, 9, 10, 11, 12]" in out and "3 x 6 array" not in out
