"""A claim that held at points but was not proved is shown as such: in the claims table,
the verdict line, the summary and the JSON."""

import io
import json

from click.testing import CliRunner
from rich.console import Console

from gradcheck.cli import main
from gradcheck.render.json import to_json
from gradcheck.render.summary import summary
from gradcheck.render.tables import render
from gradcheck.results import ClaimResult, ProblemResult, Report

WHY = "held at 6 points in float64 and in 40-digit arithmetic; not proved: SymPy gave up"


def text(renderable) -> str:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def report() -> Report:
    held = ClaimResult("x", "2*relu(x)*y", "pass", proved=False, points=6, message=WHY)
    proved = ClaimResult("y", "relu(x)**2", "pass", proved=True, points=4)
    return Report([ProblemResult("p", "relu(x)**2*y", "pass", claims={"x": held, "y": proved})])


def test_the_claims_table_and_verdict_say_held_not_proved():
    out = text(render(report()))
    row_x = next(line for line in out.splitlines() if "2*relu(x)*y" in line)
    row_y = next(line for line in out.splitlines() if line.strip().startswith("y "))
    assert " held " in row_x and " pass " not in row_x and WHY in row_x
    assert " pass " in row_y and "proved by SymPy" in row_y
    assert "PASS  0 entries; 1 claim held, not proved" in out


def test_the_summary_names_the_claim_and_counts_it():
    out = " ".join(text(summary(report())).split())
    assert "claim for x held at 6 points, not proved" in out
    assert "1 problem: 1 pass, 0 kink, 0 fail, 0 error; 1 claim held, not proved" in out


def test_the_json_says_proved_false_status_pass_and_held():
    claims = to_json(report())["problems"][0]["claims"]
    assert claims["x"]["status"] == "pass" and claims["x"]["proved"] is False
    assert claims["x"]["held"] == "at 6 points, not proved" and claims["x"]["message"] == WHY
    assert claims["y"]["proved"] is True and claims["y"]["held"] is None


def test_through_the_command_line():
    args = ["eval", "relu(x)**2*y", "--claim", "x=2*relu(x)*y", "--claim", "y=relu(x)**2"]
    result = CliRunner().invoke(main, [*args, "--no-color"], catch_exceptions=False)
    assert result.exit_code == 0 and "1 claim held, not proved" in result.stdout
    doc = json.loads(CliRunner().invoke(main, [*args, "--format", "json"]).stdout)
    x = doc["problems"][0]["claims"]["x"]
    assert (x["status"], x["proved"], x["held"]) == (
        "pass", False, f"at {x['points']} points, not proved"
    )  # fmt: skip
