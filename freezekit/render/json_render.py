"""The JSON report: a documented, versioned schema (docs/OUTPUT.md)."""

from __future__ import annotations

import json
from dataclasses import asdict
from json.encoder import encode_basestring_ascii
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


def report_dict(report: Report, view: View, parameters: bool = True) -> dict[str, Any]:
    """The report as JSON data; parameters=False leaves the "parameters" list empty (in place)."""
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
    if view.parameters and not parameters:
        out["parameters"] = []
    elif view.parameters:
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
        {
            "name": e.name,
            "expected": e.expected,
            "actual": round(e.actual, 6) if isinstance(e.actual, float) else e.actual,
            "ok": e.ok,
        }
        for e in report.expectations
    ]
    out["warnings"] = list(report.warnings)
    return out


LONG_LISTS = ("parameters", "modules")  # one item per line


def parameter_lines(report: Report, view: View) -> list[str]:
    """Each parameter of report_dict as one line of JSON, written directly: the same text as
    json.dumps(item, separators=(", ", ": ")) (a test holds them equal), several times faster."""
    q = encode_basestring_ascii
    return [
        f'{{"name": {q(p.name)}, "aliases": [{", ".join(map(q, p.aliases))}], '
        f'"shape": [{", ".join(map(str, p.shape))}], "numel": {p.numel}, "dtype": {q(p.dtype)}, '
        f'"trainable": {"true" if trainable else "false"}, "module": {q(p.module)}, '
        f'"module_type": {q(p.module_type)}, "rule": {q(rule)}}}'
        for p, trainable, rule in view.decisions(report)
    ]


def write_json(report: Report, view: View, out: TextIO) -> None:
    """Indented JSON, with one parameter (or module) per line: json's indenting encoder is pure
    Python and 100,000 parameters took seconds; each item goes through the C encoder instead."""
    item = json.JSONEncoder(separators=(", ", ": ")).encode
    parts = []
    for key, value in report_dict(report, view, parameters=False).items():
        if key == "parameters":
            lines = parameter_lines(report, view)
            body = "[\n    " + ",\n    ".join(lines) + "\n  ]" if lines else "[]"
        elif key in LONG_LISTS and value:
            body = "[\n    " + ",\n    ".join(map(item, value)) + "\n  ]"
        else:
            body = json.dumps(value, indent=2).replace("\n", "\n  ")
        parts.append(f"  {json.dumps(key)}: {body}")
    out.write("{\n" + ",\n".join(parts) + "\n}\n")
