"""FILE.py:NAME references: parsed and validated without importing anything."""

import os
import sys
from pathlib import Path

import pytest

from gradcheck.errors import GradcheckError
from gradcheck.source.code import parse_ref

FIXTURES = Path(__file__).parent / "code_fixtures"


def test_a_reference_names_the_file_and_the_function():
    ref = parse_ref(f"{FIXTURES}/good.py:quad")
    assert ref.path == (FIXTURES / "good.py").resolve()
    assert ref.name == "quad"
    assert str(ref) == f"{FIXTURES}/good.py:quad"


def test_paths_are_relative_to_the_current_folder(monkeypatch):
    monkeypatch.chdir(FIXTURES)
    ref = parse_ref("good.py:quad")
    assert ref.path == (FIXTURES / "good.py").resolve()
    assert ref.file == "good.py"


def test_paths_are_relative_to_a_base_folder_when_given(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # good.py is not here, only under the base
    ref = parse_ref("good.py:affine_forward", base=FIXTURES)
    assert ref.path == (FIXTURES / "good.py").resolve()
    absolute = parse_ref(f"{FIXTURES}/good.py:quad", base=tmp_path)
    assert absolute.path == (FIXTURES / "good.py").resolve()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("good.py", "names no function: write FILE.py:NAME"),
        (":quad", "names no function"),
        ("good.py:", "'' is not a Python name"),
        ("good.py:2fast", "'2fast' is not a Python name"),
        ("good.py:lambda", "'lambda' is not a Python name"),
        ("good.py:AffineLayer.forward", "'AffineLayer.forward' is a method"),
        ("missing.py:f", "no such file: 'missing.py'"),
        ("helper.py:nothing_here", "helper.py defines no 'nothing_here' at its top level"),
        ("good.py:quad_grd", "did you mean 'quad_grad'?"),
    ],
)
def test_bad_references_say_what_is_wrong(monkeypatch, text, words):
    monkeypatch.chdir(FIXTURES)
    with pytest.raises(GradcheckError) as error:
        parse_ref(text, where="--grad")
    assert words in str(error.value)
    assert error.value.where == "--grad"


def test_a_folder_a_special_file_and_another_suffix_are_refused(tmp_path):
    (tmp_path / "pkg.py").mkdir()
    with pytest.raises(GradcheckError, match="is a folder"):
        parse_ref(f"{tmp_path}/pkg.py:f")
    (tmp_path / "notes.txt").write_text("def f(x): return x\n")
    with pytest.raises(GradcheckError, match=r"not a Python file \(expected a name ending in .py"):
        parse_ref(f"{tmp_path}/notes.txt:f")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.py")
        with pytest.raises(GradcheckError, match="is not a regular file"):
            parse_ref(f"{tmp_path}/pipe.py:f")


def test_a_syntax_error_is_named_with_its_line(tmp_path):
    (tmp_path / "broken.py").write_text("def f(x):\n    return x +\n")
    with pytest.raises(GradcheckError) as error:
        parse_ref(f"{tmp_path}/broken.py:f")
    assert error.value.line == 2
    assert "is not valid Python" in str(error.value)


def test_undecodable_text_and_null_bytes_are_refused(tmp_path):
    (tmp_path / "latin.py").write_bytes(b"def f(x):\n    return '\xff'\n")
    with pytest.raises(GradcheckError, match=r"cannot be read as Python|not valid Python"):
        parse_ref(f"{tmp_path}/latin.py:f")
    (tmp_path / "nul.py").write_bytes(b"def f(x):\n    return 0\x00\n")
    with pytest.raises(GradcheckError, match=r"cannot be read as Python|not valid Python"):
        parse_ref(f"{tmp_path}/nul.py:f")


def test_names_bound_in_blocks_imports_and_assignments_count(tmp_path):
    (tmp_path / "bound.py").write_text(
        "import numpy as np\n"
        "from math import sin as s\n"
        "try:\n    from fast import g\nexcept ImportError:\n    def g(x): return x\n"
        "h = lambda x: x\n"
        "if True:\n    k: int = 3\n"
    )
    for name in ("np", "s", "g", "h", "k"):
        assert parse_ref(f"{tmp_path}/bound.py:{name}").name == name
    with pytest.raises(GradcheckError, match="defines no 'sin'"):
        parse_ref(f"{tmp_path}/bound.py:sin")


def test_a_star_import_makes_any_name_possible(tmp_path):
    (tmp_path / "star.py").write_text("from math import *\n")
    assert parse_ref(f"{tmp_path}/star.py:cos").name == "cos"


def test_parsing_a_reference_never_imports_the_module(tmp_path):
    marker = tmp_path / "imported"
    (tmp_path / "marked.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n\ndef f(x):\n    return x\n"
    )
    parse_ref(f"{tmp_path}/marked.py:f")
    assert not marker.exists()
    assert "marked" not in sys.modules
