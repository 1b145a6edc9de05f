"""`freezekit diff` output: a table, JSON (schema freezekit.diff, docs/OUTPUT.md), CSV, Markdown.
With --depth N, one row per module instead of one per tensor."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from typing import Any, TextIO

from ..compare.diff import DiffResult
from .safe_text import csv_text, markdown_code, markdown_text, plain
from .text_table import Column, table_lines
from .text_table import plain as line_text
from .view import Format

TENSOR_COLUMNS = ("name", "status", "frozen", "max_abs_diff", "rel_change", "dtype", "shape")
MODULE_COLUMNS = ("module", "changed_numel", "unchanged_numel", "max_rel_change")


def _number(value: float | None) -> float | None:
    """JSON has no NaN or infinity: they become null (a NaN that appeared or went: see docs/compare.md)."""
    return value if value is not None and math.isfinite(value) else None


def diff_dict(result: DiffResult) -> dict[str, Any]:
    tensors = [
        {
            "name": t.name,
            "status": t.status.value,
            "frozen": t.frozen,
            "max_abs_diff": _number(t.max_abs_diff),
            "rel_change": _number(t.rel_change),
            "dtype": t.dtype,
            "shape": t.shape,
        }
        for t in result.tensors
    ]
    doc = {"schema": "freezekit.diff", "schema_version": 1, "before": result.before, "after": result.after}
    doc |= {"tensors": tensors, "totals": asdict(result.totals)}
    if result.modules:
        doc["modules"] = [dict(asdict(m), max_rel_change=_number(m.max_rel_change)) for m in result.modules]
    return doc


def _text(value: Any, exact: bool) -> str:
    """A cell: for people (4 significant digits, thousands separators) or, `exact`, for CSV readers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "frozen" if value else "trainable"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value) if exact else f"{value:.4g}"
    if isinstance(value, int):
        return str(value) if exact else f"{value:,}"
    return str(value)


def _rows(result: DiffResult, exact: bool = False) -> tuple[tuple[str, ...], list[list[str]]]:
    if result.modules:
        rows = [[plain(m.module)] + [_text(v, exact) for v in asdict(m).values()][1:] for m in result.modules]
        return MODULE_COLUMNS, rows
    rows = [
        [
            plain(t.name),
            t.status.value,
            _text(t.frozen, exact),
            _text(t.max_abs_diff, exact),
            _text(t.rel_change, exact),
            t.dtype,
            t.shape,
        ]  # fmt: skip
        for t in result.tensors
    ]
    return TENSOR_COLUMNS, rows


def totals_line(result: DiffResult) -> str:
    t = result.totals
    parts = [f"{t.tensors:,} tensors: {t.changed:,} changed, {t.unchanged:,} unchanged"]
    others = {"added": t.added, "removed": t.removed, "reshaped": t.reshaped, "retyped": t.retyped}
    parts += [f"{n:,} {label}" for label, n in others.items() if n]
    return ", ".join(parts) + f"; {t.changed_numel:,} values changed, {t.unchanged_numel:,} unchanged"


def _columns(header: tuple[str, ...]) -> list[Column]:
    """The name never gives way; numbers are right-aligned; on a narrow terminal the last columns go first."""
    numeric = ("changed_numel", "unchanged_numel", "max_abs_diff", "rel_change", "max_rel_change")
    columns = [Column(header[0], keep=True)]
    for i, h in enumerate(header[1:], 1):
        columns.append(Column(h, justify="right" if h in numeric else "left", drop=len(header) - i))
    return columns


def write_diff(result: DiffResult, fmt: Format, out: TextIO, width: int | None = None) -> None:
    if fmt is Format.JSON:
        out.write(json.dumps(diff_dict(result), indent=2) + "\n")
        return
    header, rows = _rows(result, exact=fmt is Format.CSV)
    if fmt is Format.CSV:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([[csv_text(c) for c in row] for row in rows])
        return
    if fmt is Format.MARKDOWN:
        out.write("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
        for row in rows:
            out.write("| " + " | ".join([markdown_code(row[0])] + [markdown_text(c) for c in row[1:]]) + " |\n")
        out.write("\n" + markdown_text(totals_line(result)) + "\n")
        return
    for line in table_lines(_columns(header), rows, width):
        out.write(line_text(line) + "\n")
    out.write(totals_line(result) + "\n")
