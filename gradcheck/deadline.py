"""Wall-clock limits: a hard deadline per problem, and soft budgets for work inside it.

``deadline(60, "checking 'x.yaml'")`` stops whatever runs inside it once 60 seconds have
passed and raises ``TimeLimit``, which the CLI reports like any other bad input: one
pathological problem must not hang a batch in CI. ``budget(2)`` is the soft kind: the work
inside it (a SymPy proof, a simplification) is abandoned with ``OverBudget``, which the
caller catches to fall back to something cheaper.

Both stop pure-Python work by ``SIGALRM`` from ``setitimer(ITIMER_REAL)``, which can only
be had in the main thread of the main interpreter, on platforms that have it (not
Windows). Elsewhere both are no-ops: the work runs unbounded. Each batch worker is its
own process, where the check runs in the main thread, so in gradcheck that covers every
use. Limits nest: an inner one never extends an outer one, and on leaving, the handler
and timer that were there before (ours or anyone's) are put back, their time still
running.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gradcheck.errors import GradcheckError

#: After a limit has expired, its alarm fires again this often (seconds) until the limit
#: is left: work that swallows the first exception (a broad ``except``) is still stopped.
REFIRE = 0.25


class TimeLimit(GradcheckError):
    """The work ran past its wall-clock limit (``--timeout``)."""


class OverBudget(Exception):
    """A soft budget ran out; internal, always caught by whoever set the budget."""


@contextmanager
def deadline(seconds: float | None, what: str) -> Iterator[None]:
    """Raise ``TimeLimit`` if the block runs longer than ``seconds`` (None or inf: no limit).

    The message reads "<what> took longer than N s; --timeout raises the limit".
    A no-op outside the main thread (see the module's docstring).

    Raises:
        TimeLimit: the block was stopped at the limit.
    """

    def expired() -> TimeLimit:
        return TimeLimit(f"{what} took longer than {seconds:g} s; --timeout raises the limit")

    with _alarm(seconds, expired):
        yield


@contextmanager
def budget(seconds: float | None) -> Iterator[None]:
    """Raise ``OverBudget`` if the block runs longer than ``seconds`` (None or inf: no limit).

    Within a ``deadline`` the budget never extends it: the deadline's ``TimeLimit``
    still comes first when it is due first. A no-op outside the main thread.

    Raises:
        OverBudget: the block was abandoned; the caller catches it and falls back.
    """
    with _alarm(seconds, lambda: OverBudget(f"over a budget of {seconds:g} s")):
        yield


def available() -> bool:
    """Whether limits are enforced here (the main thread, on a platform with SIGALRM)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def _alarm(seconds: float | None, expired: Callable[[], BaseException]) -> Iterator[None]:
    """Arm SIGALRM for the earlier of our expiry and the enclosing timer's; restore it after."""
    if seconds is None or seconds == math.inf or not available():
        yield
        return
    if not seconds > 0:  # also NaN; the CLI validates what users type
        raise ValueError(f"a time limit must be positive, not {seconds!r}")
    now = time.monotonic()
    ours = now + seconds
    previous = signal.getsignal(signal.SIGALRM)
    remaining, interval = signal.getitimer(signal.ITIMER_REAL)
    theirs = now + remaining if remaining > 0 else math.inf
    handed_over = False

    def on_alarm(signum, frame) -> None:
        nonlocal theirs, handed_over
        if ours <= theirs:  # the timer was armed for the earlier one: ours is due
            signal.setitimer(signal.ITIMER_REAL, REFIRE, REFIRE)
            raise expired()
        # The enclosing timer is due: it was there first, so its handler decides.
        theirs = time.monotonic() + interval if interval > 0 else math.inf
        handed_over = True
        _arm(min(ours, theirs))
        _deliver(previous, signum, frame)

    on_alarm.gradcheck = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGALRM, on_alarm)
    _arm(min(ours, theirs))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if theirs < math.inf:
            left = max(theirs - time.monotonic(), 1e-6)
            signal.setitimer(signal.ITIMER_REAL, left, interval)
        elif handed_over and getattr(previous, "gradcheck", False):
            # An enclosing limit of ours expired in here: keep it firing until it is left.
            signal.setitimer(signal.ITIMER_REAL, REFIRE, REFIRE)


def _arm(at: float) -> None:
    if at < math.inf:
        signal.setitimer(signal.ITIMER_REAL, max(at - time.monotonic(), 1e-6))


def _deliver(handler, signum, frame) -> None:
    """Run the enclosing SIGALRM handler as if the signal had gone to it directly."""
    if callable(handler):
        handler(signum, frame)
    elif handler == signal.SIG_DFL:  # the default for SIGALRM ends the process
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGALRM)
