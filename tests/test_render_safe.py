"""Escaping text from files: nothing a terminal, a CI log or an XML parser would act on
survives, and text without such characters is left exactly as it was."""

import unicodedata
from xml.etree import ElementTree

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.render.safe import escaped, printable, xml_safe
from gradcheck.results import Cause, CauseCode, ProblemResult, Status


def acted_on(char: str) -> bool:
    """What a terminal or a log reader acts on, or no UTF-8 output can hold."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs") or char in (
        "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufffe\uffff"
    )


@given(st.text())
def test_printable_leaves_nothing_to_act_on_and_one_line(text):
    shown = printable(text)
    assert not any(acted_on(c) for c in shown)
    assert len(shown.splitlines()) <= 1
    shown.encode("utf-8")  # a lone surrogate would raise here


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))))
def test_text_without_controls_is_left_as_it_is(text):
    if not any(acted_on(c) for c in text):
        assert printable(text) is text


def test_escapes_read_as_python_writes_them():
    assert printable("a\x1b[2Jb\x07\n\r\t\x00\u202e") == "a\\x1b[2Jb\\x07\\n\\r\\t\\x00\\u202e"


@given(st.text())
def test_xml_safe_text_always_parses_and_keeps_line_breaks(text):
    element = ElementTree.Element("e", name=printable(text))
    element.text = xml_safe(text)
    document = ElementTree.tostring(element, encoding="unicode")
    parsed = ElementTree.fromstring(document.encode("utf-8"))
    assert parsed.get("name") == printable(text)
    if "\n" in text:
        assert "\n" in xml_safe(text)


def test_results_are_escaped_deep_and_shared_where_unchanged():
    causes = {3: Cause(CauseCode.CENTRAL, "off\x1b[31m")}
    p = ProblemResult("n\x07", "x*y", Status.PASS, notes=["fine", "a\nb"], findings=[])
    p.claims = {}
    array = np.zeros(3)
    shown = escaped({"p": p, "causes": causes, "array": array, ("k\r",): 1})
    assert shown["p"].name == "n\\x07" and shown["p"].notes == ["fine", "a\\nb"]
    assert shown["p"].status is Status.PASS and shown["p"].expression is p.expression
    assert shown["causes"][3] == Cause(CauseCode.CENTRAL, "off\\x1b[31m")
    assert shown["array"] is array and shown[("k\\r",)] == 1
    assert p.name == "n\x07"  # the original is not changed
    clean = ProblemResult("n", "x", Status.PASS)
    assert escaped(clean) is clean
