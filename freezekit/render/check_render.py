"""What `check` found: the drift lines (or one line saying the manifest matches), or JSON (schema freezekit.check/1)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TextIO

from ..core.manifest import Drift
from .safe_text import plain
from .view import Format, View


def check_dict(manifest: str, drift: Drift, model: str) -> dict:
    return {
        "schema": "freezekit.check",
        "schema_version": 1,
        "manifest": manifest,
        "model": model,
        "ok": not drift.drifted,
        **asdict(drift),
    }


def values_summary(drift: Drift) -> str:
    """How far the values were checked: a count, or the note saying why not (never implied)."""
    compared = f"{drift.values_compared:,} frozen tensor(s) compared by value"
    if drift.values_note and not drift.values_compared:
        return drift.values_note
    return f"{compared}; {drift.values_note}" if drift.values_note else compared


def write_check(manifest: str, drift: Drift, model: str, matches: str, view: View, out: TextIO) -> None:
    """`matches`: the line printed when nothing drifted (what was compared)."""
    if view.format is Format.JSON:
        out.write(json.dumps(check_dict(manifest, drift, model), indent=2, allow_nan=False, default=str) + "\n")
        return
    for line in drift.lines() or [f"{matches}; {values_summary(drift)}"]:
        out.write(plain(line) + "\n")  # drift lines carry parameter names from files
