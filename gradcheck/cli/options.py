"""Options shared by several commands, and the checks that keep every option in range."""

from __future__ import annotations

import functools

import click

FORMATS = click.Choice(["table", "json"])


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
                type=click.FloatRange(min=0),
                default=None,
                help="Relative tolerance for finite differences and claims [default: 1e-06].",
            ),
            click.option(
                "--atol",
                type=click.FloatRange(min=0),
                default=None,
                help="Absolute tolerance for finite differences and claims [default: 1e-09].",
            ),
            click.option(
                "--seed",
                type=int,
                default=0,
                show_default=True,
                help="Seed for randomly drawn values (printed with them).",
            ),
            click.option("--no-color", is_flag=True, help="No colours (NO_COLOR is honoured too)."),
        ],
    )


def checking(command):
    """Options of the commands that check gradients (eval, check), gathered with the
    shared --rtol, --atol and --seed into one ``settings`` argument."""

    @functools.wraps(command)
    def with_settings(
        *args, strict, step, mode, probes, points, methods, dtype, rtol, atol, seed, **kwargs
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
        )
        return command(*args, settings=settings, **kwargs)

    return _stacked(
        with_settings,
        [
            click.option("--strict", is_flag=True, help="Count kinks as failures."),
            click.option(
                "--step",
                type=click.FloatRange(min=0, min_open=True),
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
                default=3,
                show_default=True,
                help="Random directions in --mode directional.",
            ),
            click.option(
                "--points",
                type=click.IntRange(min=1),
                default=1,
                show_default=True,
                help="Random points to check at (when some values are drawn).",
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
