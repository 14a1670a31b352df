"""``gradcheck check``: every problem file below the paths given, in one batch."""

from __future__ import annotations

import functools
import json
import os
import sys

import click

from gradcheck.cli.options import OutputFile, checking, common, shard
from gradcheck.errors import GradcheckError


@click.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes; never more than the files or the CPUs (a larger number is "
    "lowered to that).",
)
@click.option("--junit", type=OutputFile(), help="Write a JUnit XML report here.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first file that fails.")
@click.option(
    "--shard",
    metavar="K/N",
    callback=shard,
    help="Check only the K-th of N shares of the files (a stable split by path).",
)
@click.option(
    "--allow-code",
    is_flag=True,
    help="Run the Python code that func: problems name (in a worker process). Without "
    "it such a problem is an error and its file is never imported.",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show every problem in full, not only those that did not pass.",
)
@checking
@common
def check_command(
    paths, jobs, junit, fail_fast, shard, allow_code, verbose, fmt, no_color, settings
):
    """Check problem files: every *.yaml / *.yml below each folder given.

    One broken file never stops the others. Problems with func: (your own code) run only
    with --allow-code. Exit code 2 if any problem could not be checked, else 1 if any
    failed, else 0. With GITHUB_ACTIONS=true, failures are also printed as GitHub
    annotations on the file and line.

    \b
    Examples:
      gradcheck check problems/
      gradcheck check problems/ -j 2 --junit report.xml
      gradcheck check problems/ --shard 1/4 --format json
      gradcheck check examples/homework.yaml --allow-code
    """
    from gradcheck.batch import in_shard, run, workers
    from gradcheck.source.files import find

    found = find(list(paths))
    if not found:
        raise GradcheckError(f"no problem files (*.yaml, *.yml) in {', '.join(paths)}")
    if shard is not None:
        found = [p for p in found if in_shard(p, shard)]
    jobs = workers(jobs, len(found))
    run = functools.partial(run, allow_code=allow_code)
    report = _run_with_progress(run, found, settings, jobs, fail_fast, no_color)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        from gradcheck.render.ci import annotations

        for line in annotations(report):
            click.echo(line, err=fmt == "json")
    if fmt == "json":
        from gradcheck.render.json import to_json

        click.echo(json.dumps(to_json(report), indent=2))
    else:
        from gradcheck.render.console import make_console
        from gradcheck.render.tables import batch_view

        make_console(no_color).print(batch_view(report, verbose, shard))
    if junit:  # after the results are shown: a file that cannot be written loses nothing
        from gradcheck.render.ci import junit as junit_xml
        from gradcheck.render.output import write_text

        write_text("--junit", junit, junit_xml(report))
    sys.exit(report.exit_code)


def _run_with_progress(run, found, settings, jobs, fail_fast, no_color):
    """A progress bar on a terminal when the batch is long enough to wait for."""
    if len(found) < 4 or not sys.stderr.isatty():
        return run(found, settings, jobs=jobs, fail_fast=fail_fast)
    from gradcheck.render.console import progress_bar

    with progress_bar(len(found), no_color) as advance:
        return run(found, settings, jobs=jobs, fail_fast=fail_fast, progress=advance)
