"""Wall-clock limits: they stop the work, nest without extending, and put back what was there."""

import contextlib
import signal
import threading
import time

import pytest

from gradcheck.deadline import OverBudget, TimeLimit, budget, deadline
from gradcheck.errors import GradcheckError

#: How long a busy loop may spin before the test itself gives up (a limit that never fires).
GIVE_UP = 5.0


def spin(seconds: float = GIVE_UP) -> float:
    """Busy pure-Python work for ``seconds``; returns how long it ran."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        pass
    return time.monotonic() - start


@pytest.fixture(autouse=True)
def _no_alarm_left():
    before = signal.getsignal(signal.SIGALRM)
    yield
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before


def test_a_deadline_stops_the_work_with_a_message_naming_the_option():
    start = time.monotonic()
    with pytest.raises(TimeLimit) as caught, deadline(0.05, "checking 'slow.yaml'"):
        spin()
    assert time.monotonic() - start < 1.0
    assert (
        str(caught.value)
        == "checking 'slow.yaml' took longer than 0.05 s; --timeout raises the limit"
    )
    assert isinstance(caught.value, GradcheckError) and caught.value.exit_code == 2


def test_work_done_in_time_is_untouched_and_the_timer_is_disarmed():
    with deadline(5, "x"):
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 5
        value = sum(range(1000))
    assert value == 499500
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_no_limit_means_none_at_all():
    with deadline(None, "x"), budget(float("inf")):
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_budget_raises_its_own_exception_which_is_not_a_user_error():
    with pytest.raises(OverBudget), budget(0.05):
        spin()
    assert not issubclass(OverBudget, GradcheckError)


def test_an_inner_budget_cannot_extend_the_outer_deadline():
    start = time.monotonic()
    with pytest.raises(TimeLimit), deadline(0.05, "the problem"), budget(30):
        assert signal.getitimer(signal.ITIMER_REAL)[0] <= 0.05
        spin()
    assert time.monotonic() - start < 1.0


def test_after_a_spent_budget_the_outer_deadline_still_runs():
    with pytest.raises(TimeLimit), deadline(0.3, "the problem"):
        with pytest.raises(OverBudget), budget(0.05):
            spin()
        remaining = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 0 < remaining <= 0.3
        spin()


def test_a_swallowed_expiry_fires_again():
    with pytest.raises(TimeLimit), deadline(0.05, "the problem"):
        with contextlib.suppress(TimeLimit):  # a broad except in someone's code
            spin()
        spin()


def test_a_previous_handler_and_timer_are_put_back_still_running():
    calls = []
    previous = signal.signal(signal.SIGALRM, lambda *_: calls.append("theirs"))
    try:
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        with deadline(1, "x"):
            assert signal.getitimer(signal.ITIMER_REAL)[0] <= 1
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 4.0 < left <= 5.0
        assert signal.getsignal(signal.SIGALRM) is not previous
        assert calls == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_earlier_foreign_timer_still_goes_to_its_handler():
    calls = []
    previous = signal.signal(signal.SIGALRM, lambda *_: calls.append(time.monotonic()))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with deadline(30, "x"):
            spin(0.3)  # the foreign timer fires in here; ours must not
        assert len(calls) == 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_outside_the_main_thread_limits_are_documented_no_ops():
    outcome = []

    def work():
        try:
            with deadline(0.01, "x"), budget(0.01):
                outcome.append(spin(0.1))
        except Exception as exc:  # pragma: no cover - a failure is reported below
            outcome.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(GIVE_UP)
    assert len(outcome) == 1 and isinstance(outcome[0], float) and outcome[0] >= 0.1


@pytest.mark.parametrize("seconds", [0, -1, float("nan")])
def test_a_limit_must_be_positive(seconds):
    with pytest.raises(ValueError), deadline(seconds, "x"):
        pass  # pragma: no cover
