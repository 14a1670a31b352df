"""Options shared by several commands, and the checks that keep every option in range.

An option out of range is a usage error (exit code 2) whose message names the option,
the value and the bound, checked before any work starts.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import click

from gradcheck import limits
from gradcheck.limits import ENTRIES, FILE_BYTES, POINTS, PROBES, STEPS, TIMEOUT, Limit

FORMATS = click.Choice(["table", "json"])

#: What numpy's random generators take as a seed, and what a seed printed can be read as.
SEED_MAX = 2**32 - 1


class Finite(click.ParamType):
    """A finite float at or above ``low`` (strictly above it with ``open``): nan, inf and
    anything below are refused by name."""

    name = "float"

    def __init__(self, low: float = 0.0, open: bool = False) -> None:
        self.low, self.open = low, open

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, float):
            number = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if number < self.low or (self.open and number == self.low):
            bound = "above" if self.open else "at least"
            self.fail(f"{value!r} is out of range: it must be {bound} {self.low:g}", param, ctx)
        return number


class OutputFile(click.Path):
    """A file to write: not empty, not a folder, and (with ``suffixes``) of a kind we draw."""

    def __init__(self, suffixes: tuple[str, ...] = ()) -> None:
        super().__init__(dir_okay=False)
        self.suffixes = suffixes

    def convert(self, value, param, ctx):
        if not str(value).strip():
            self.fail("an empty file name; give the file to write", param, ctx)
        if self.suffixes and Path(value).suffix.lower() not in self.suffixes:
            listed = ", ".join(self.suffixes[:-1]) + " or " + self.suffixes[-1]
            self.fail(f"{value}: the file must end in {listed}", param, ctx)
        return super().convert(value, param, ctx)


class ExpressionCommand(click.Command):
    """A command whose one argument may be an expression that starts with a minus sign.

    ``gradcheck eval "-sum(y*log(p))" --at ...`` works as typed: a token that starts with
    a single ``-`` and is no option of the command is the expression, wherever it stands.
    ``-- "-sum(...)"`` followed by more options works too.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _expression_last(args, self._takes_value(ctx)))

    def _takes_value(self, ctx: click.Context) -> dict[str, bool]:
        """Each option string of the command, and whether a value follows it."""
        return {
            name: not (param.is_flag or param.count)
            for param in self.get_params(ctx)
            if isinstance(param, click.Option)
            for name in (*param.opts, *param.secondary_opts)
        }


def _expression_last(args: list[str], options: dict[str, bool]) -> list[str]:
    """``args`` with the expression moved behind ``--``, where click reads it as the
    argument; unchanged when no token needs it."""
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":  # "-- EXPR --at ...": the options after EXPR are options still
            return args if i + 1 >= len(args) else [*args[:i], *args[i + 2 :], "--", args[i + 1]]
        name, equals, _ = token.partition("=")
        if name in options:
            i += 2 if options[name] and not equals else 1
            continue
        if token.startswith("-") and not token.startswith("--") and len(token) > 1:
            return [*args[:i], *args[i + 1 :], "--", token]
        i += 1
    return args


def within(limit: Limit):
    """A callback refusing a count above ``limit``, naming the limit."""

    def check(ctx, param, value):
        if value is not None and value > limit.value:
            raise click.BadParameter(
                f"{value:,} is above the limit of {limit.value:,} {limit.what}"
            )
        return value

    return check


def _stacked(command, options):
    """``command`` under each option decorator, in the order listed (as ``--help`` shows)."""
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def common(command):
    """--format, --rtol, --atol, --seed, --no-color: shared by every command."""
    return _stacked(
        command,
        [
            click.option(
                "--format",
                "fmt",
                type=FORMATS,
                default="table",
                show_default=True,
                help="table for people, json (to stdout) for programs.",
            ),
            click.option(
                "--rtol",
                type=Finite(0),
                default=None,
                help="Relative tolerance for finite differences and claims [default: 1e-06].",
            ),
            click.option(
                "--atol",
                type=Finite(0),
                default=None,
                help="Absolute tolerance for finite differences and claims [default: 1e-09].",
            ),
            click.option(
                "--seed",
                type=click.IntRange(0, SEED_MAX),
                default=0,
                show_default=True,
                help="Seed for randomly drawn values (printed with them).",
            ),
            click.option("--no-color", is_flag=True, help="No colours (NO_COLOR is honoured too)."),
            click.option(
                "--max-entries",
                type=click.IntRange(1, 10**10),
                default=None,
                expose_value=False,
                is_eager=True,
                callback=_lift("entries"),
                help=f"Entries allowed in one array [default: {ENTRIES.value:,}].",
            ),
            click.option(
                "--max-file-size",
                type=click.IntRange(1, 10**12),
                default=None,
                expose_value=False,
                is_eager=True,
                callback=_lift("file_bytes"),
                metavar="BYTES",
                help=f"Bytes allowed in one problem file [default: {FILE_BYTES.value:,}].",
            ),
        ],
    )


def _lift(limit: str):
    """A callback raising a limit of limits.py for this run (before anything is read)."""

    def callback(ctx, param, value):
        if value is not None:
            limits.lift(**{limit: value})

    return callback


def timeout(command):
    """--timeout: the wall-clock seconds one problem may take."""
    return click.option(
        "--timeout",
        type=Finite(0, open=True),
        default=TIMEOUT,
        show_default=True,
        metavar="SECONDS",
        help="Stop a problem that takes longer than this, as an error.",
    )(command)


def checking(command):
    """Options of the commands that check gradients (eval, check), gathered with the
    shared --rtol, --atol and --seed into one ``settings`` argument."""

    @functools.wraps(command)
    def with_settings(
        *args,
        strict,
        step,
        mode,
        probes,
        points,
        methods,
        dtype,
        timeout,
        rtol,
        atol,
        seed,
        **kwargs,
    ):
        from gradcheck.check import Settings

        settings = Settings(
            rtol=rtol,
            atol=atol,
            seed=seed,
            strict=strict,
            mode=mode,
            probes=probes,
            points=points,
            step=step,
            methods=methods,
            dtype=dtype,
            timeout=timeout,
        )
        return command(*args, settings=settings, **kwargs)

    return _stacked(
        timeout(with_settings),
        [
            click.option("--strict", is_flag=True, help="Count kinks as failures."),
            click.option(
                "--step",
                type=Finite(0, open=True),
                default=None,
                help="A fixed finite-difference step for every method [default: chosen per entry].",
            ),
            click.option(
                "--mode",
                type=click.Choice(["full", "directional"]),
                default="full",
                show_default=True,
                help="full: every entry; directional: g.u along random unit directions u.",
            ),
            click.option(
                "--probes",
                type=click.IntRange(min=1),
                callback=within(PROBES),
                default=3,
                show_default=True,
                help=f"Random directions in --mode directional (at most {PROBES.value:,}).",
            ),
            click.option(
                "--points",
                type=click.IntRange(min=1),
                callback=within(POINTS),
                default=1,
                show_default=True,
                help="Random points to check at, when some values are drawn (at most "
                f"{POINTS.value:,}).",
            ),
            click.option(
                "--methods",
                callback=_methods,
                default="forward,backward,central",
                show_default=True,
                metavar="LIST|all",
                help="Estimators: forward, backward, central, complex, richardson.",
            ),
            click.option(
                "--dtype",
                type=click.Choice(["float64", "float32"]),
                default="float64",
                show_default=True,
                help="Working precision of the graph and the differences.",
            ),
        ],
    )


def name_list(ctx, param, value) -> list[str] | None:
    """``V1, b1`` -> ``["V1", "b1"]`` (None when the option is not given)."""
    return None if value is None else [n.strip() for n in value.split(",") if n.strip()]


def _methods(ctx, param, value) -> tuple[str, ...]:
    from gradcheck.check import METHODS

    names = list(METHODS) if value.strip() == "all" else [m.strip() for m in value.split(",")]
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown method {unknown[0] if unknown else value!r}; the "
            f"methods are {', '.join(METHODS)}, or all"
        )
    return tuple(dict.fromkeys(names))


def shard(ctx, param, value) -> tuple[int, int] | None:
    """``2/4`` -> ``(2, 4)``: the second of four shares."""
    if value is None:
        return None
    k, sep, n = value.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise click.BadParameter(f"{value!r} is not K/N with 1 <= K <= N, like 2/4")
    return int(k), int(n)


def steps(ctx, param, value: str) -> str:
    """``LO:HI:N``, checked: LO and HI finite, positive and apart; 2 <= N <= the limit."""
    usage = "expected LO:HI:N with positive LO != HI and N >= 2, like 1e-1:1e-13:25"
    parts = value.split(":")
    try:
        lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
    except (ValueError, IndexError):
        raise click.BadParameter(f"{value!r}: {usage}") from None
    problem = (
        "not three numbers" if len(parts) != 3
        else "LO and HI must be finite" if not (math.isfinite(lo) and math.isfinite(hi))
        else "LO and HI must be positive" if lo <= 0 or hi <= 0
        else "LO and HI must differ" if lo == hi
        else "N must be at least 2" if n < 2
        else None
    )  # fmt: skip
    if problem:
        raise click.BadParameter(f"{value!r}: {problem}; {usage}")
    if n > STEPS.value:
        raise click.BadParameter(f"N = {n:,} is above the limit of {STEPS.value:,} {STEPS.what}")
    return value
