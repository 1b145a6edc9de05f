"""Keep stdout for the report: code freezekit runs on the user's behalf prints to stderr instead."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """While a factory is imported and called (or a model runs), whatever it prints goes to stderr,
    so `--format json | jq` still reads one JSON document. Python's `print` is redirected, and so is
    file descriptor 1 when stdout is the process's own (C extensions, `os.system`)."""
    try:
        sys.stdout.flush()
        real_fd = sys.stdout.fileno() == 1 and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a test runner's in-memory stream: no descriptor to move
        real_fd = False
    saved = None
    if real_fd:
        saved = os.dup(1)
        os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 1)
            os.close(saved)
