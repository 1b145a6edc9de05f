"""Ctrl-C and SIGTERM: the run stops, cleanup runs, and the user reads one line (exit 130)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

from ..errors import Terminated


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM raises Terminated (a KeyboardInterrupt): temp files are removed
    and a half-committed --save/--manifest pair is rolled back, as for Ctrl-C."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (an application embedding the CLI): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
