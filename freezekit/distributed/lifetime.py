"""Ranks die with the process that launched them, and never outlive their timeout.

SIGINT and SIGTERM reach the launcher, which stops its ranks (launch.py). A SIGKILL (an OOM kill, a
CI runner's hard stop) runs no cleanup, so each rank guards itself three ways:

- Linux's parent-death signal (prctl PR_SET_PDEATHSIG): the kernel sends SIGKILL when the process
  that forked the rank (the fork server) exits; the fork server gets the same from the launcher.
- a pipe from the launcher: the launcher holds the write end, the rank a thread blocked on the read
  end; end of file means the launcher is gone (any OS, and whatever forked the rank).
- an alarm at the run's timeout plus a margin, with SIGALRM's default action (the kernel ends the
  process even inside a collective that never returns).

Linux-only parts degrade to nothing elsewhere: the pipe and the alarm still hold.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from typing import Any

PR_SET_PDEATHSIG = 1
ALARM_MARGIN_S = 5  # the launcher stops ranks at the timeout; a rank ends itself this much later


def die_with_parent() -> None:
    """SIGKILL this process when its parent exits (Linux); if the parent is already gone, exit now."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return  # not permitted here: the pipe and the alarm still hold
    if os.getppid() != parent or parent == 1:  # the parent died before the signal was armed
        os._exit(1)


def watch_launcher(reader: Any) -> None:
    """End this process when the launcher's end of `reader` (a multiprocessing Connection) closes."""

    def wait() -> None:
        try:
            reader.recv_bytes()
        except (EOFError, OSError):
            pass
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup: the launcher that would collect it is gone

    threading.Thread(target=wait, name="freezekit-watch-launcher", daemon=True).start()


def end_after(timeout_s: float) -> None:
    """Let the kernel end this process `timeout_s` + ALARM_MARGIN_S seconds from now, hung or not."""
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(int(timeout_s) + ALARM_MARGIN_S)
