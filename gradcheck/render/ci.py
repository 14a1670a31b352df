"""Output for CI: JUnit XML (one test case per problem) and GitHub Actions annotations."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import PurePath

from gradcheck.render.console import plain_text
from gradcheck.render.safe import printable, xml_safe
from gradcheck.render.summary import what_is_wrong
from gradcheck.render.tables import problem_view
from gradcheck.results import Report


def junit(report: Report) -> str:
    """A JUnit XML document: one <testcase> per problem, failures and errors with messages.

    A kink is not a failure: it is reported in the test case's <system-out>. The document
    is well-formed whatever the names hold: their control characters are escaped.
    """
    counts = report.summary
    total = f"{sum(p.seconds for p in report.problems):.3f}"
    attributes = {
        "tests": str(len(report.problems)),
        "failures": str(counts["fail"]),
        "errors": str(counts["error"]),
        "skipped": "0",
        "time": total,
    }
    suites = ElementTree.Element("testsuites", name="gradcheck", **attributes)
    suite = ElementTree.SubElement(suites, "testsuite", name="gradcheck", **attributes)
    for p in report.problems:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            name=printable(p.name),
            classname=_classname(p.file),
            time=f"{p.seconds:.3f}",
        )
        if p.file:
            case.set("file", printable(p.file))
        if p.line:
            case.set("line", str(p.line))
        if p.status in ("fail", "error"):
            tag = "failure" if p.status == "fail" else "error"
            outcome = ElementTree.SubElement(case, tag, message=what_is_wrong(p), type=p.status)
            outcome.text = xml_safe(plain_text(problem_view(p)))
        elif p.status == "kink":
            ElementTree.SubElement(case, "system-out").text = "kink: " + what_is_wrong(p)
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _classname(file: str | None) -> str:
    if file is None:
        return "gradcheck"
    return printable(".".join(PurePath(file).with_suffix("").parts))


def annotations(report: Report) -> list[str]:
    """GitHub Actions workflow commands: an error per failure or error, a warning per kink."""
    lines = []
    for p in report.problems:
        if p.status == "pass":
            continue
        level = "warning" if p.status == "kink" else "error"
        where = [f"file={_property(p.file)}"] if p.file else []
        if p.line:
            where.append(f"line={p.line}")
        where.append(f"title={_property(f'gradcheck {p.status}: {p.name}')}")
        lines.append(f"::{level} {','.join(where)}::{_data(what_is_wrong(p))}")
    return lines


def _data(text: str) -> str:
    """The workflow-command escaping of a message, then any other control character
    escaped, so that no line of ours can start a workflow command of theirs."""
    return printable(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
