"""The JSON report: a documented, versioned schema (README, "JSON schema")."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, TextIO

from ..core.report import Report
from .view import View

SCHEMA = "freezekit.report"
SCHEMA_VERSION = 1


def totals_dict(report: Report) -> dict[str, Any]:
    t = report.totals
    return {
        "total": t.total,
        "trainable": t.trainable,
        "frozen": t.frozen,
        "trainable_pct": round(t.trainable_pct, 6),
        "tensors": t.tensors,
        "trainable_tensors": t.trainable_tensors,
        "frozen_tensors": t.frozen_tensors,
        "bytes": t.bytes,
        "trainable_bytes": t.trainable_bytes,
        "frozen_bytes": t.frozen_bytes,
        "bytes_by_dtype": dict(t.bytes_by_dtype),
    }


def report_dict(report: Report, view: View) -> dict[str, Any]:
    plan = report.plan
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "command": report.command,
        "model": report.model.as_dict(),
        "default": plan.default,
        "rules": [
            {"action": r.action, "pattern": r.pattern, "origin": r.origin, "selected": n}
            for r, n in zip(plan.rules, plan.selected)
        ],
        "totals": totals_dict(report),
        "buffers": {"tensors": report.totals.buffer_tensors, "numel": report.totals.buffers},
    }
    if view.parameters:
        out["parameters"] = [
            {
                "name": d.param.name,
                "aliases": list(d.param.aliases),
                "shape": list(d.param.shape),
                "numel": d.param.numel,
                "dtype": d.param.dtype,
                "trainable": d.trainable,
                "module": d.param.module,
                "module_type": d.param.module_type,
                "rule": d.rule,
            }
            for d in view.decisions(report)
        ]
    if view.depth is not None:
        out["depth"] = view.depth
        out["modules"] = [
            {"name": r.name, "total": r.total, "trainable": r.trainable, "frozen": r.frozen}
            for r in view.modules(report)
        ]
    if report.norms or report.batchnorm:
        out["batchnorm"] = {"policy": report.batchnorm_policy.value, "layers": [asdict(n) for n in report.norms]}
    out["expectations"] = [
        {"name": e.name, "expected": e.expected, "actual": e.actual, "ok": e.ok} for e in report.expectations
    ]
    out["warnings"] = list(report.warnings)
    return out


def write_json(report: Report, view: View, out: TextIO) -> None:
    out.write(json.dumps(report_dict(report, view), indent=2) + "\n")
