"""Hostile input never stops a batch: each case is its own file's error, the rest go on.

Each case runs through ``gradcheck check`` in a process of its own, under a time limit and
a memory cap, so that a case that regresses fails here instead of hanging the suite.
Property tests feed random bytes and random YAML documents to the same code.
"""

import json
import os
import random
import resource
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck.batch import run
from gradcheck.check import Settings
from gradcheck.results import STATUSES
from gradcheck.source.files import Broken, find, load

from .hostile.cases import EXPECTED, GOOD, make

ROOT = Path(__file__).resolve().parent.parent
#: No case may take longer, or more address space (numpy and BLAS reserve some).
SECONDS = 20
MEMORY = 2 * 2**30


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def gradcheck(*args) -> subprocess.CompletedProcess:
    """``gradcheck ARGS`` in its own process, capped in time and memory."""
    return subprocess.run(
        [sys.executable, "-m", "gradcheck", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=SECONDS,
        preexec_fn=_capped,
        cwd=ROOT,
    )


def checked(folder: Path, *options) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Check a folder through the CLI: the process, and its JSON problems."""
    junit = folder.parent / "report.xml"
    done = gradcheck("check", folder, "--format", "json", "--junit", junit, *options)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    problems = json.loads(done.stdout)["problems"]
    cases = ElementTree.parse(junit).getroot().findall(".//testcase")
    assert len(cases) == len(problems)
    return done, problems


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_case_is_its_files_error_and_the_good_file_still_passes(tmp_path, case):
    folder = tmp_path / "corpus"
    folder.mkdir()
    path = make(case, folder)
    (folder / "good.yaml").write_text(GOOD)
    done, problems = checked(folder)
    assert done.returncode == 2
    (error,) = [p for p in problems if p["file"] == str(path)]
    assert error["status"] == "error"
    assert error["message"].startswith(f"{path}:") and EXPECTED[case] in error["message"]
    assert [p["status"] for p in problems if p["name"] == "good"] == ["pass"]
    assert all(p["status"] == "error" for p in problems if p["name"] != "good")


def test_the_whole_corpus_in_workers(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    paths = {str(make(case, folder)): case for case in EXPECTED}
    (folder / "good.yaml").write_text(GOOD)
    done, problems = checked(folder, "-j", "2")
    assert done.returncode == 2
    by_file = {p["file"]: p for p in problems}
    for path, case in paths.items():
        assert EXPECTED[case] in by_file[path]["message"], case
    assert by_file[str(folder / "good.yaml")]["status"] == "pass"


def test_a_fifo_named_directly_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    done = gradcheck("check", tmp_path / "pipe.yaml", "--format", "json")
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    (problem,) = json.loads(done.stdout)["problems"]
    assert problem["message"] == f"{tmp_path / 'pipe.yaml'}: not a regular file (a FIFO)"


# ---------------------------------------------------------------- properties


def one_result_per_document(path: Path) -> None:
    """``check`` gives every document of the file one result, naming the file."""
    items = load(path)
    assert items and all(item.file == str(path) for item in items)
    report = run([path], Settings())
    assert len(report.problems) == len(items)
    for item, result in zip(items, report.problems, strict=True):
        assert result.status in STATUSES and result.file == str(path)
        if isinstance(item, Broken):
            assert result.status == "error" and result.message.startswith(str(path))


NEAR = [GOOD.encode(), b"expr: sum(W @ v)\nat: {W: [[1, 2], [3, 4]], v: [1, -1]}\n"]


@st.composite
def mangled(draw) -> bytes:
    """A problem that passes, with a few bytes replaced, inserted or cut."""
    data = bytearray(draw(st.sampled_from(NEAR)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        what = draw(st.sampled_from(["replace", "insert", "cut"]))
        byte = draw(st.integers(0, 255))
        if what == "insert" or at == len(data):
            data.insert(at, byte)
        elif what == "replace":
            data[at] = byte
        else:
            del data[at]
    return bytes(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=300), mangled()))
def test_random_bytes_get_one_result_per_document(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "p.yaml"
    path.write_bytes(data)
    one_result_per_document(path)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(),
    st.text(max_size=20),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
PROBLEMS = st.fixed_dictionaries(
    {"expr": st.sampled_from(["sin(x)*y", "x", "sum(W @ v)", "relu(x - 1)", "log(x)", "x +"])},
    optional={
        "at": st.dictionaries(st.sampled_from(["x", "y", "W", "v"]), VALUES, max_size=3),
        "name": SCALARS,
        "wrt": VALUES,
        "claims": st.dictionaries(st.sampled_from(["x", "y"]), SCALARS, max_size=2),
        "tolerance": VALUES,
        "extra": VALUES,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents=st.lists(st.one_of(PROBLEMS, VALUES), min_size=1, max_size=4))
def test_random_yaml_documents_get_one_result_each(tmp_path_factory, documents):
    path = tmp_path_factory.mktemp("yaml") / "p.yaml"
    path.write_text(yaml.safe_dump_all(documents, allow_unicode=True))
    assert len(load(path)) == max(1, sum(d is not None for d in documents))
    one_result_per_document(path)


def test_random_files_through_the_cli(tmp_path):
    chance = random.Random(0)
    folder = tmp_path / "random"
    folder.mkdir()
    for i in range(4):
        (folder / f"bytes{i}.yaml").write_bytes(chance.randbytes(chance.randrange(1, 200)))
        near = bytearray(NEAR[i % 2])
        near[chance.randrange(len(near))] = chance.randrange(256)
        (folder / f"near{i}.yaml").write_bytes(bytes(near))
    expected = sum(len(load(path)) for path in find([str(folder)]))
    done, problems = checked(folder)
    assert done.returncode in (0, 1, 2) and len(problems) == expected
