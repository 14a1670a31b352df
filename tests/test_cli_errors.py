"""Errors meet the user once, at the group: one line, exit code 2, never a traceback."""

import subprocess
import sys

from click.testing import CliRunner

from gradcheck.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def plant(monkeypatch, raising):
    """Every command's way to a problem raises: eval and diff build one, trace and sweep
    select one."""
    import gradcheck.source.problems
    import gradcheck.source.select

    monkeypatch.setattr(gradcheck.source.problems, "problem", raising)
    monkeypatch.setattr(gradcheck.source.select, "problem", raising)


def test_memory_exhausted_is_a_message_naming_the_command(monkeypatch):
    def exhausted(*args, **kwargs):
        raise MemoryError

    plant(monkeypatch, exhausted)
    for command in ("eval", "diff", "trace", "sweep"):
        result = run(command, "x*y")
        assert result.exit_code == 2, result.output
        assert result.stderr == (
            f"error: out of memory while running gradcheck {command}; try smaller inputs\n"
        )


def test_an_error_raised_deep_is_translated_by_the_group_for_every_command(monkeypatch):
    from gradcheck.errors import ShapeError

    def deep(*args, **kwargs):
        raise ShapeError("planted", where="expression", column=3)

    plant(monkeypatch, deep)
    for command in ("diff", "trace", "sweep"):
        result = run(command, "x*y")
        assert (result.exit_code, result.stderr) == (2, "error: expression, column 3: planted\n")


def test_starting_the_command_line_imports_no_heavy_library():
    script = (
        "import sys\n"
        "import gradcheck.cli\n"
        "print(sorted(m for m in ('sympy', 'matplotlib', 'rich', 'yaml') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
