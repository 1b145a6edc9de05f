"""'Did you mean' help for error messages: the nearest valid names to what the user typed."""

from __future__ import annotations

import difflib


def nearest(word: str, candidates: list[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(word, candidates, n=n, cutoff=0.5)


def did_you_mean(word: str, candidates: list[str]) -> str:
    close = nearest(word, candidates)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
