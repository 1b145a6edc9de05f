"""A time budget for work whose duration a file controls: regular expressions read from manifests,
configs and PEFT adapter configs (a backtracking pattern can run for hours on a few hundred names).

`re` is kept on purpose: `re:` rules promise Python's `re.fullmatch` semantics, which RE2 and the
`regex` package do not share exactly. The budget is an interval timer (SIGALRM) whose handler raises
inside the match, which CPython's `re` lets a signal interrupt, and the caller's error replaces it.

It applies on the main thread only (elsewhere the work runs without a budget); an interval timer
already running (a rank's own end, distributed/lifetime.py) is put back with what is left of it.
Patterns typed on the command line are the user's own and get none.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from ..errors import FreezekitError

REGEX_BUDGET_S = 10.0  # a rule's pattern against every name of a model takes milliseconds
PEFT_BUDGET_S = 60.0  # peft applying an adapter: its patterns against every module name, and the new layers


class _Spent(BaseException):  # not an Exception: code that catches Exception must not swallow it
    pass


def _usable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_budget(seconds: float, error: Callable[[], FreezekitError]) -> Iterator[None]:
    """Run the body for at most `seconds`; past that, raise `error()` (from None: the frame the timer
    interrupted says nothing useful). An interval timer already running (a rank's own end) is put
    back afterwards with what was left of it; when it would fire first, it bounds the work alone."""
    outer, interval = signal.getitimer(signal.ITIMER_REAL) if _usable() else (0.0, 0.0)
    if not _usable() or 0 < outer <= seconds:
        yield
        return
    state = {"done": False}

    def on_alarm(signum: int, frame: object) -> None:
        if not state["done"]:
            raise _Spent

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        try:
            yield
        finally:
            state["done"] = True  # an alarm arriving now finds the work finished
    except _Spent:
        raise error() from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001), interval)
