"""A spinner on stderr for slow steps, only when stderr is a terminal (never in pipes or CI logs)."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    from ..render.safe_text import cell

    with Console(stderr=True).status(cell(message), spinner="dots"):  # a model name is text, not markup
        yield
