"""Where the report goes: how wide stdout is, whether it takes colour, and a quiet end when the
reader closes the pipe (`freezekit freeze resnet152 | head -5`).

No terminal and no COLUMNS: no width at all, so tables take the width of their content rather
than pretending to be 80 columns wide (rich's guess) and cutting names.
"""

from __future__ import annotations

import os
import shutil
import sys


def stdout_width() -> int | None:
    """The terminal's width; COLUMNS when it is set; else None (size to the content)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if _isatty():
        return shutil.get_terminal_size().columns
    return None


def stdout_color() -> bool:
    """Colour only on a terminal, never with NO_COLOR (https://no-color.org) or TERM=dumb."""
    return _isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _isatty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def silence_stdout() -> None:
    """The reader went away (EPIPE): send what is left, including Python's final flush, nowhere.

    Without this the interpreter's last flush raises again at exit and prints 'Exception ignored'."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test runner's buffer)
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives until exit
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
