"""What `check` found: the drift lines (or one line saying the manifest matches), or JSON (schema freezekit.check/1)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TextIO

from ..core.manifest import Drift
from ..core.report import Report
from .safe_text import plain
from .view import Format, View


def check_dict(manifest: str, drift: Drift, report: Report) -> dict:
    return {
        "schema": "freezekit.check",
        "schema_version": 1,
        "manifest": manifest,
        "model": report.model.source,
        "ok": not drift.drifted,
        **asdict(drift),
    }


def write_check(manifest: str, drift: Drift, report: Report, view: View, out: TextIO) -> None:
    if view.format is Format.JSON:
        out.write(json.dumps(check_dict(manifest, drift, report), indent=2) + "\n")
        return
    for line in drift.lines() or [
        f"manifest matches: {report.totals.frozen:,} of {report.totals.total:,} "
        f"parameters frozen, inventory {drift.fingerprint_now}"
    ]:
        out.write(plain(line) + "\n")  # drift lines carry parameter names from files
