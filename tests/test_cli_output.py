"""Output cannot be hijacked: names and paths from files reach the terminal, the CI log and
the JUnit file with their control characters escaped."""

import json
import textwrap
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from gradcheck.cli import main

#: ESC (a colour, then clear the screen), BEL, and a newline that would start a GitHub
#: workflow command of the file's choosing.
HOSTILE = "bad\x1b[31mRED\x1b[2J\x07\n::warning file=x::INJECTED"
SHOWN = "bad\\x1b[31mRED\\x1b[2J\\x07\\n::warning file=x::INJECTED"


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def hostile_file(folder, expression="x*y", claimed="5", filename="evil.yaml"):
    path = folder / filename
    path.write_text(
        textwrap.dedent(
            f"""\
            name: "bad\\e[31mRED\\e[2J\\a\\n::warning file=x::INJECTED"
            expr: {expression}
            at: {{x: 2, y: 3}}
            expect:
              grad:
                y: {claimed}
            """
        )
    )
    return path


def assert_nothing_raw(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert not any(line.lstrip().startswith("::warning file=x") for line in text.splitlines())


@pytest.fixture
def folder(tmp_path):
    return tmp_path


def test_json_holds_the_name_as_written_escaped_by_json_itself(folder):
    result = run("check", hostile_file(folder), "--format", "json")
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert json.loads(result.stdout)["problems"][0]["name"] == HOSTILE


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_the_table_and_summary_show_control_characters_escaped(folder, verbose):
    result = run("check", hostile_file(folder), "--no-color", *verbose)
    assert result.exit_code == 1, result.output
    assert_nothing_raw(result.stdout)
    assert SHOWN[:40] in result.stdout  # the summary folds long names; the title does not
    assert "bad\\x1b[31mRED" in result.stdout


def test_an_error_about_a_hostile_file_is_escaped_too(folder):
    path = hostile_file(folder, expression="x*")
    result = run("check", path, "--no-color")
    assert result.exit_code == 2
    assert_nothing_raw(result.stdout + result.stderr)
    assert "bad\\x1b[31mRED" in result.stdout


def test_github_annotations_cannot_be_injected(folder):
    hostile_file(folder)
    hostile_file(folder, expression="relu(x - 2)*y", claimed="0", filename="kink.yaml")
    result = run("check", folder, "--no-color", env={"GITHUB_ACTIONS": "true"})
    commands = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert len(commands) == 2, result.stdout
    assert all(line.startswith(("::error file=", "::warning file=")) for line in commands)
    assert not any("file=x::" in line for line in commands)
    title = commands[0].split(",title=", 1)[1].split("::", 1)[0]
    # the workflow-command escaping of a property: %0A for the newline, %3A for colons
    assert (
        title
        == "gradcheck fail%3A bad\\x1b[31mRED\\x1b[2J\\x07%0A%3A%3Awarning file=x%3A%3AINJECTED"
    )
    assert_nothing_raw(result.stdout + result.stderr)


def test_junit_is_well_formed_whatever_the_names_hold(folder):
    hostile_file(folder)
    hostile_file(folder, expression="x*", filename="broken.yaml")
    report = folder / "junit.xml"
    result = run("check", folder, "--junit", report)
    assert result.exit_code == 2
    cases = ElementTree.parse(report).getroot().findall(".//testcase")
    assert [c.get("name") for c in cases] == [SHOWN, SHOWN]
    assert cases[0].find("error") is not None and cases[1].find("failure") is not None
    assert "\\x1b" in cases[1].find("failure").text


def test_a_file_name_with_a_newline_cannot_start_a_workflow_command(folder):
    hostile_file(folder, filename="a\n::warning file=x::INJECTED.yaml")
    for env in ({}, {"GITHUB_ACTIONS": "true"}):
        result = run("check", folder, "--no-color", env=env)
        assert result.exit_code == 1
        assert_nothing_raw(result.stdout + result.stderr)
        assert "a\\n::warning file=x::INJECTED.yaml" in result.stdout


@pytest.mark.parametrize("command", ["trace", "sweep"])
def test_trace_and_sweep_escape_the_name_they_show(folder, command):
    result = run(command, hostile_file(folder), "--no-color")
    assert result.exit_code in (0, 1), result.output
    assert_nothing_raw(result.stdout + result.stderr)
    assert "bad\\x1b[31mRED" in result.stdout


def test_an_error_message_quoting_user_text_is_escaped():
    result = run("eval", "x\x1b[2J + \x07")
    assert result.exit_code == 2
    assert_nothing_raw(result.stderr)
    assert result.stderr.startswith("error: ")


def test_a_name_that_looks_like_tex_is_drawn_as_written(folder):
    # matplotlib reads $...$ as TeX: "$\frac{$" once ended in an internal error
    path = folder / "tex.yaml"
    path.write_text('name: "cost $\\\\frac{$ \\e[2J"\nexpr: x*y\nat: {x: 2, y: 3}\n')
    plot = folder / "sweep.svg"
    result = run("sweep", path, "--plot", plot, "--no-color")
    assert result.exit_code == 0, result.output
    assert "cost $\\frac{$ \\x1b[2J" in result.stdout and plot.exists()
