"""Problem files: the schema, and an error with file and line for every kind of mistake."""

import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck import limits
from gradcheck.errors import ProblemError
from gradcheck.source.files import Broken, find, load
from gradcheck.source.language import RandomSpec
from gradcheck.source.yamlread import documents

from .conftest import network_0


def write(tmp_path, text, name="p.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def broken(tmp_path, text) -> str:
    (item,) = load(write(tmp_path, text))
    assert isinstance(item, Broken), item
    return str(item.error)


def test_a_full_problem(tmp_path):
    (problem,) = load(
        write(
            tmp_path,
            """
        name: two-layer net
        let:
          p: V1 @ x + b1
          z: V2 @ relu(p)
        expr: 0.5 * sum((z - y)^2)
        at:
          V1: [[2, -1], [0, 3], [2, 1]]
          b1: [2, -1, 3]
          V2: random(2, 3)
          x: [-1, 2]
          y: [-4, 1]
        wrt: [V1, b1]
        claims:
          b1: V2.T @ (z - y) * sign(relu(p))
        tolerance: {rtol: 1.0e-5, atol: 1e-8}
        step: 1e-6
        """,
        )
    )
    assert problem.name == "two-layer net" and problem.wrt == ("V1", "b1")
    assert problem.values["V2"] == RandomSpec((2, 3))
    np.testing.assert_array_equal(problem.values["b1"], [2, -1, 3])
    assert (problem.rtol, problem.atol, problem.step) == (1e-5, 1e-8, 1e-6)
    assert problem.lets == ("p", "z") and set(problem.claims) == {"b1"}
    assert problem.line == 1


def test_several_problems_in_one_file_and_default_names(tmp_path):
    items = load(
        write(
            tmp_path,
            """
        expr: x^2
        ---
        expr: sin(x)
        ---
        name: third
        expr: cos(
        """,
            "many.yaml",
        )
    )
    assert [i.name for i in items] == ["many #1", "many #2", "third"]
    assert isinstance(items[2], Broken) and not isinstance(items[0], Broken)


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("exprs: x^2\n", ":1:1", "unknown key 'exprs'; did you mean 'expr'?"),
        ("expr: x\nfoo: 1\n", ":2:1", "unknown key 'foo'; the keys are name, let, expr, at"),
        ("expr: x\nclaim:\n  x: 1\n", ":2", "unknown key 'claim'; did you mean 'claims'?"),
        ("name: no expression\n", ":1:1", "missing key 'expr'"),
        ("expr: [1, 2]\n", ":1:7", "expr must be an expression"),
        ("expr: x\nat: [1, 2]\n", ":2:5", "at must be a mapping"),
        ("expr: x\nat:\n  x: yes\n", ":3:6", "must be a number, got 'yes'"),
        ("expr: x\nat:\n  x: .inf\n", ":3:6", "must be finite"),
        ("expr: sum(x)\nat:\n  x: [[1, 2], [3]]\n", ":3:6", "ragged"),
        ("expr: x\nstep: -1\n", ":2:7", "must be a positive number"),
        ("expr: x\nstep: small\n", ":2:7", "step must be a number"),
        ("expr: x\ntolerance: {rtol: 1e-6, btol: 1}\n", ":2:25", "unknown key 'btol' in tolerance"),
        ("expr: x\ntolerance: {rtol: -1}\n", ":2", "rtol must not be negative"),
        ("expr: x*y\nwrt: [x, 3]\n", ":2:10", "wrt must be a list of input names"),
        ("expr: x*y\nwrt: [x, z]\n", ":", "'z' is not an input"),
        ("expr: x\nexpr: y\n", ":2:1", "'expr' is given twice"),
        ("expr: sin(x\n", ":1:10", "syntax error"),
        ("expr: 'x + sinn(y)'\n", ":1:12", "unknown function 'sinn'; did you mean 'sin'?"),
        ("expr: x\nlet:\n  q: 2*p\n  p: x\n", ":3:6", "'p' is used before it is defined"),
        ("expr: q\nlet:\n  q: q + 1\n", ":3:6", "defined in terms of itself"),
        ("expr: x\nlet:\n  sin: x\n", ":3", "'sin' is a function"),
        (
            "expr: sum(W @ x)\nat:\n  W: [[1, 2], [3, 4]]\n  x: [1, 2, 3]\n",
            ":1:11",
            "W has shape (2, 2) and x has shape (3,)",
        ),
        ("expr: x\nat:\n  y: 1\n", "", "'y' is given a value but the expression does not use it"),
        (
            "expr: sum(W)\nat:\n  W: [[1, 2]]\nexpect:\n  grad:\n    W: [1, 2]\n",
            ":6:8",
            "expect grad W has shape (2,), but W has shape (1, 2)",
        ),
        ("expr: x*y\nat: {x: 1}\nexpect:\n  value: 2\n", ":4", "expect needs every input given"),
        (
            "expr: x*y\nat: {x: 1, y: 2}\nexpect:\n  grad:\n    z: 1\n",
            ":5",
            "expect grad names 'z', which is neither differentiated nor a let",
        ),
        ("expr: x\nat: {x: 1}\nexpect:\n  values: 1\n", ":4", "unknown key 'values' in expect"),
        ("expr: x\n  at: 1\n", ":2:5", "not valid YAML"),
        ("expr: x\nat:\n\tx: 1\n", ":3:1", "not valid YAML"),
        ("- expr: x\n", ":1:1", "a problem must be a mapping"),
        ("expr: x\nat: {x: '__import__(1)'}\n", ":2:10", "dunder name"),
    ],
)
def test_each_mistake_is_named_with_its_file_and_line(tmp_path, text, where, words):
    message = broken(tmp_path, text)
    assert message.startswith(str(tmp_path / "p.yaml") + where), message
    assert words in message, message


def test_an_empty_file_holds_no_problem(tmp_path):
    assert "holds no problem" in broken(tmp_path, "# nothing here\n")


def test_a_binary_file_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    (item,) = load(path)
    assert isinstance(item, Broken) and ":1:1: not UTF-8 text" in str(item.error)


LAUGHS = "".join(
    f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * 9)}]\n" if k else "l0: &l0 [lol]\n"
    for k in range(10)
)


def deep(opening: str, closing: str, depth: int) -> str:
    return opening * depth + "1" + closing * depth


#: Hostile text, where the refusal must point, and what it must say. Each one crashed the
#: batch ("internal error"), hung, or exhausted memory before it was bounded.
HOSTILE = [
    (b"expr: x\x00\n", ":1:8", "U+0000 (a control character) is not allowed in YAML"),
    (b"name: \x1b[31mred\n", ":1:7", "U+001B (a control character)"),
    (b"expr: x\nname: \xff\n", ":2:7", "not UTF-8 text: the byte 0xff cannot be decoded"),
    (b"expr: x\nname: caf\xc3\n", ":2:10", "not UTF-8 text: the byte 0xc3"),
    (b"expr: x\nat: {x: " + b"1" * 5000 + b"}\n", ":2:9", "a number has 5,000 digits"),
    (b"expr: x\nat: {x: 0x" + b"f" * 500 + b"}\n", ":2:9", "above the limit of 400"),
    (b"expr: x\nat: {x: 1." + b"5" * 10000 + b"}\n", ":2:9", "a number has 10,001 digits"),
    (b"expr: x\nat: {x: " + b"9" * 330 + b"}\n", ":2:9", "must be finite, got 99999"),
    (b"expr: x\nat: {x: 1.0e+999999}\n", ":2:9", "must be finite, got 1.0e+999999"),
    (b"expr: x\nat: {x: 1e999999}\n", ":2:9", "the number 1e999999 is too large"),
    (b"expr: x\nstep: '" + b"1" * 5000 + b"'\n", ":2:7", "step must be a number, got '111"),
    (b"expr: x\nat: {x: " + deep("[", "]", 100).encode() + b"}\n", ":2:71", "65 levels"),
    # libyaml's own bound (1,000) is met first while it scans ahead
    (b"expr: x\nat: {x: " + deep("[", "]", 10_000).encode() + b"}\n", ":2:1007", "nesting depth"),
    (b"expr: x\nat: " + deep("{a: ", "}", 10_000).encode() + b"\n", ":2:257", "65 levels"),
    (
        b"expr: x\nat:\n" + "".join(" " * k + "a:\n" for k in range(1, 200)).encode(),
        ":66:65",
        "the YAML here has 65 levels of nesting, above the limit of 64",
    ),
    (  # 39 levels, held 27 deep: an alias nests as deeply as what it names
        f"a: &a {deep('[', ']', 39)}\nb: {deep('[', ']', 26).replace('1', '*a')}\n".encode(),
        ":2:30",
        "the YAML here has 66 levels of nesting",
    ),
    (
        LAUGHS.encode(),
        ":7:40",  # the first alias that takes the count past the limit
        "the YAML up to here has 1,019,525 YAML nodes once aliases are expanded, "
        "above the limit of 1,000,000",
    ),
    (b"expr: x\nat: &a {x: [1, *a]}\n", ":2:16", "*a refers to a list or mapping that holds it"),
    (b"expr: x\nat: {x: *nothing}\n", ":2:9", "*nothing refers to no anchor &nothing"),
    (b"expr: x\nat: {x: !!binary aGk=}\n", ":2:9", "the YAML tag 'tag:yaml.org,2002:binary'"),
    (b"expr: x\n<<: {at: 1}\n", ":2:1", "the YAML tag 'tag:yaml.org,2002:merge'"),
    (b"expr: x\n[a]: 1\n", ":2:1", "a key must be a name, got 'a list or mapping'"),
    (
        b"expr: sum(W)\nat:\n  W: random(100000, 100000)\n",
        ":3:6",
        "W has 10,000,000,000 entries, above the limit of 10,000,000; --max-entries lifts it",
    ),
]


@pytest.mark.parametrize(("data", "where", "words"), HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_is_one_error_naming_the_file_and_place(tmp_path, data, where, words):
    path = tmp_path / "p.yaml"
    path.write_bytes(data)
    (item,) = load(path)
    assert isinstance(item, Broken), item
    assert str(item.error).startswith(f"{path}{where}: "), str(item.error)
    assert words in str(item.error)
    assert len(str(item.error)) < 300  # a 10,000-digit number is not quoted whole


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.-+eE_:xob", min_size=1, max_size=14))
def test_scalars_read_as_pyyaml_reads_them(written):
    text = f"x: {written}\n"
    try:
        expected = yaml.safe_load(text)["x"]
    except (yaml.YAMLError, ValueError):
        with pytest.raises(ProblemError):
            documents(text, "p.yaml")
        return
    (document,) = documents(text, "p.yaml")
    got = document.data["x"].data
    assert type(got) is type(expected)
    assert got == expected or (got != got and expected != expected)


def test_a_problem_too_deep_for_the_parser_is_an_error_not_a_crash(tmp_path, monkeypatch):
    from gradcheck.source import fields

    def parse(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(fields, "parse", parse)
    (item,) = load(write(tmp_path, "name: deep\nexpr: x\n"))
    assert str(item.error) == f"{tmp_path / 'p.yaml'}:1: nested too deeply to read"
    assert item.name == "deep"


def test_a_file_over_the_size_limit_is_refused_before_it_is_opened(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:
        f.truncate(limits.FILE_BYTES.value + 1)  # sparse: nothing is written
    monkeypatch.setattr(os, "open", lambda *a, **k: pytest.fail("the file was opened"))
    (item,) = load(path)
    assert str(item.error) == (
        f"{path}: the file has 10,485,761 bytes, above the limit of 10,485,760; "
        "--max-file-size lifts it"
    )


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "p.yaml"
    path.write_text("expr: x\n")
    small = os.stat(path)  # what the checks see: a small file
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: small)
    monkeypatch.setattr(os, "fstat", lambda fd: small)
    path.write_bytes(b"#" * (limits.FILE_BYTES.value + 5))
    (item,) = load(path)
    assert "has 10,485,761 bytes, above the limit" in str(item.error)


def test_a_fifo_is_never_opened(tmp_path, monkeypatch):
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    monkeypatch.setattr(os, "open", lambda *a, **k: pytest.fail("the FIFO was opened"))
    (item,) = load(path)
    assert str(item.error) == f"{path}: not a regular file (a FIFO)"


def test_an_unreadable_file_is_named_with_the_reason(tmp_path, monkeypatch):
    path = tmp_path / "secret.yaml"
    path.write_text("expr: x\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    (item,) = load(path)
    assert str(item.error) == f"{path}: cannot read the file: Permission denied"


def test_aliases_within_the_limits_are_read(tmp_path):
    text = "expr: x*y\nat: {x: &one 1, y: 2}\nexpect:\n  grad: {x: 2, y: *one}\n"
    (problem,) = load(write(tmp_path, text))
    assert not isinstance(problem, Broken), problem
    np.testing.assert_array_equal(problem.expectation.grads["y"].value, 1)


def test_yaml_tags_that_build_python_objects_are_refused(tmp_path):
    for value in ("!!python/object/apply:os.system ['echo hi']", "!!python/name:os.system x"):
        message = broken(tmp_path, f"expr: {value}\n")
        assert ":1:7: the YAML tag 'tag:yaml.org,2002:python/" in message


def test_numbers_written_with_their_precision(tmp_path):
    (problem,) = load(
        write(
            tmp_path,
            """
        expr: sum(z)
        at: {z: [1, 2, 3]}
        expect:
          grad: {z: [0.01715, 1.50e-3, 24]}
        """,
        )
    )
    precision = problem.expectation.grads["z"].precision
    assert precision[0] == pytest.approx(5e-6) and precision[1] == pytest.approx(5e-6)
    assert np.isnan(precision[2])  # an integer is exact


def test_find_walks_folders_and_keeps_order(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("b/z.yml", "a.yaml", "b/y.yaml", "notes.txt"):
        (tmp_path / name).write_text("expr: x\n")
    assert [p.relative_to(tmp_path).as_posix() for p in find([str(tmp_path)])] == [
        "a.yaml",
        "b/y.yaml",
        "b/z.yml",
    ]


def reasons(items) -> list[tuple[str, str]]:
    """find()'s result as (path, what is wrong or '') pairs, paths relative to the folder."""
    out = []
    for item in items:
        if isinstance(item, Broken):
            assert str(item.error).startswith(item.file + ": ")
            out.append((item.file, item.error.message))
        else:
            out.append((str(item), ""))
    return out


def test_find_reports_what_it_cannot_look_at(tmp_path, monkeypatch):
    for name in ("a.yaml", "locked/wrong.yaml", "real/b.yaml"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("expr: x\n")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (tmp_path / "gone_folder").symlink_to(tmp_path / "nowhere")
    (tmp_path / "real" / "up").symlink_to(tmp_path)  # a loop through a folder link
    (tmp_path / "knot1.yaml").symlink_to(tmp_path / "knot2.yaml")  # a loop of links
    (tmp_path / "knot2.yaml").symlink_to(tmp_path / "knot1.yaml")
    (tmp_path / "view").symlink_to(tmp_path / "real")  # followed once: real/ is seen first
    os.mkfifo(tmp_path / "pipe.yaml")
    os.mkfifo(tmp_path / "pipe.txt")  # not a problem file, whatever it were
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":  # root reads through chmod 000, so refuse here
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    t = str(tmp_path)
    assert reasons(find([t])) == [
        (f"{t}/a.yaml", ""),
        (f"{t}/gone.yaml", f"a broken link: its target '{t}/nowhere.yaml' does not exist"),
        (f"{t}/gone_folder", f"a broken link: its target '{t}/nowhere' does not exist"),
        (f"{t}/knot1.yaml", "a link loop: following its links never ends"),
        (f"{t}/knot2.yaml", "a link loop: following its links never ends"),
        (f"{t}/locked", "cannot list the folder: Permission denied"),
        (f"{t}/pipe.yaml", ""),  # load() names it: not a regular file
        (f"{t}/real/b.yaml", ""),
        (f"{t}/real/up", "a link loop: it leads back to a folder it is in"),
    ]


def test_a_special_file_or_a_link_named_directly_is_reported_not_missing(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    monkeypatch.setattr(os, "open", lambda *a, **k: pytest.fail("a FIFO was opened"))
    t = str(tmp_path)
    assert reasons(find([f"{t}/pipe", f"{t}/gone.yaml"])) == [
        (f"{t}/pipe", "not a regular file (a FIFO)"),
        (f"{t}/gone.yaml", f"a broken link: its target '{t}/nowhere.yaml' does not exist"),
    ]
    with pytest.raises(ProblemError, match="no such file or folder"):
        find([f"{t}/missing.yaml"])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads through chmod 000")
def test_a_truly_unreadable_folder_and_file_are_reported(tmp_path):
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "wrong.yaml").write_text("expr: x\n")
    (tmp_path / "secret.yaml").write_text("expr: x\n")
    (tmp_path / "locked").chmod(0)
    (tmp_path / "secret.yaml").chmod(0)
    try:
        folder, secret = find([str(tmp_path)])
        assert folder.error.message == "cannot list the folder: Permission denied"
        (loaded,) = load(secret)
        assert loaded.error.message == "cannot read the file: Permission denied"
    finally:
        (tmp_path / "locked").chmod(0o755)


@pytest.mark.parametrize(
    ("claimed", "status"),
    [
        ("0.2449", "pass"),
        ("0.24490", "pass"),  # 0.244895..0.244905
        ("0.24491", "fail"),
        ("0.2448", "fail"),
        ("0.245", "pass"),
        ("0.24", "pass"),  # 0.235..0.245
        ("0.23", "fail"),
    ],
)
def test_claimed_numbers_hold_at_the_precision_written(tmp_path, claimed, status):
    from gradcheck import check

    # d/dx of 12/49 * x is 0.24489795...: 0.2449 stands for 0.24485..0.24495
    (problem,) = load(
        write(tmp_path, f"expr: 12/49 * x\nat: {{x: 1}}\nexpect:\n  grad: {{x: {claimed}}}\n")
    )
    (out,) = check(problem).problems
    assert out.status == status


@pytest.mark.parametrize(
    ("gq", "status"),
    [("[14, 2, -8]", "pass"), ("[14, 2, 8]", "fail"), ("[0, 2, -8]", "fail")],
)
def test_expect_grad_may_name_a_let_intermediate(tmp_path, gq, status):
    from gradcheck import check

    # seed 004 network 0: the upstream gradient at q = relu(p) is gq = (14, 2, -8)
    text = network_0("[V1, b1]", {"q": gq, "z": "[4, 2]"})
    (problem,) = load(write(tmp_path, text))
    (out,) = check(problem).problems
    assert out.status == status
    assert [e.what for e in out.expected] == ["q", "z"]


def test_expect_grad_of_a_let_must_have_its_shape(tmp_path):
    text = "let:\n  q: 2*x\nexpr: sum(q)\nat: {x: [1, 2]}\nexpect:\n  grad:\n    q: 1\n"
    message = broken(tmp_path, text)
    assert "expect grad q has shape (), but q has shape (2,)" in message


def test_files_keeps_its_public_names_after_the_split():
    from gradcheck.source import fields, files, walk, yamlread

    assert fields.Value is files.Value
    assert files.find is walk.find and files.Broken is walk.Broken
    assert files.SUFFIXES == walk.SUFFIXES == (".yaml", ".yml")
    assert files.Value is yamlread.Value and "expr" in files.KEYS
    assert set(files.__all__) >= {"load", "find", "Broken", "SUFFIXES", "KEYS"}
