"""`check --format json`: schema freezekit.check (docs/OUTPUT.md)."""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from ..core.manifest import Drift
from ..core.report import Report

SCHEMA = "freezekit.check"
SCHEMA_VERSION = 1


def check_dict(manifest: str, report: Report, drift: Drift) -> dict[str, Any]:
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "manifest": manifest,
            "model": report.model.source, "ok": not drift.drifted, **asdict(drift)}


def check_json(manifest: str, report: Report, drift: Drift) -> str:
    return json.dumps(check_dict(manifest, report, drift), indent=2) + "\n"
