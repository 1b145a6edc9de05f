"""Imported by the fork server as its first preload (launch.PRELOAD): the fork server dies with the
launcher (lifetime.die_with_parent), as the ranks it forks die with it.

Importing this module anywhere else does nothing: it arms the signal only when multiprocessing's
fork server is importing it.
"""

from __future__ import annotations

import sys

from .lifetime import die_with_parent


def _in_fork_server() -> bool:
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "main" and frame.f_globals.get("__name__") == "multiprocessing.forkserver":
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


if _in_fork_server():
    die_with_parent()
