"""How a message or a table names a long list: the first few names, whole, and how many more."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import one_line

FIRST = 5  # names shown in a message


def first_names(names: Sequence[str], n: int = FIRST) -> str:
    """'a, b, c, d, e and 12 more': the first n names whole (never cut), control characters
    escaped (errors.one_line), then how many were left out."""
    shown = ", ".join(one_line(name) for name in names[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")
