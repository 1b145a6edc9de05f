"""Rendering a VerifyResult: a table (text_table.py: names never cut), JSON (schema freezekit.verify/1), or Markdown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any, TextIO

from ..verify.result import VerifyResult
from .safe_text import markdown_code, markdown_text
from .safe_text import plain as safe
from .table_render import status_style, write_lines
from .text_table import Column, Line, table_lines
from .view import Format, View


def verify_dict(result: VerifyResult, warnings_fail: bool) -> dict[str, Any]:
    return {
        "schema": "freezekit.verify",
        "schema_version": 1,
        "model": result.model,
        "device": result.device,
        "dtype": result.dtype,
        "batch_size": result.batch_size,
        "input": result.input_desc,
        "ok": not result.failures(warnings_fail),
        "checks": [{**asdict(c), "offenders": list(c.offenders[:50])} for c in result.checks],
        "step": asdict(result.frozen_run),
        "all_trainable_step": asdict(result.all_trainable_run) if result.all_trainable_run else None,
        "speedup": round(result.speedup, 3) if result.speedup else None,
        "memory_ratio": round(result.memory_ratio, 3) if result.memory_ratio else None,
    }


def _status(ok: bool, severity: str, warnings_fail: bool) -> str:
    """What the check means for this run: under --strict a warning fails it too."""
    return "pass" if ok else ("FAIL" if severity == "error" or warnings_fail else "warn")


def _step_rows(result: VerifyResult) -> list[tuple[str, str]]:
    f, b = result.frozen_run, result.all_trainable_run
    rows = [
        ("step time (frozen)", f"{f.step_ms:.1f} ms"),
        (f"peak memory (frozen, {f.memory_measure})", f"{f.peak_mib:,.1f} MiB"),
    ]
    if b:
        rows += [
            ("step time (all trainable)", f"{b.step_ms:.1f} ms"),
            ("peak memory (all trainable)", f"{b.peak_mib:,.1f} MiB"),
            ("speedup", f"{result.speedup:.2f}x"),
            ("memory ratio", f"{result.memory_ratio:.2f}x"),
        ]
    return rows


def verify_lines(result: VerifyResult, warnings_fail: bool = False, width: int | None = None) -> Iterator[Line]:
    """The checks, then the training step: text_table's rule (names never cut)."""
    title = f"verify {safe(result.model)} on {result.device} ({result.dtype}, {result.input_desc})"
    columns = (Column("Check", keep=True), Column("Result", style=status_style), Column("Detail"))
    rows = [(safe(c.name), _status(c.ok, c.severity, warnings_fail), safe(c.detail)) for c in result.checks]
    yield from table_lines(columns, rows, width, title)
    yield []
    steps = (Column("", keep=True), Column("", "right"))
    yield from table_lines(steps, _step_rows(result), width, "Training step", header=False)


def verify_markdown(result: VerifyResult, warnings_fail: bool = False) -> str:
    lines = [
        f"## freezekit verify: {markdown_code(result.model)} on {result.device} ({result.dtype})",
        "",
        "| Check | Result | Detail |",
        "|---|---|---|",
    ]
    lines += [
        f"| {markdown_text(c.name)} | {_status(c.ok, c.severity, warnings_fail)} | {markdown_text(c.detail)} |"
        for c in result.checks
    ]
    lines += ["", "| Training step | |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in _step_rows(result)]
    return "\n".join(lines) + "\n"


def verify_json(result: VerifyResult, warnings_fail: bool) -> str:
    return json.dumps(verify_dict(result, warnings_fail), indent=2) + "\n"


def write_verify(result: VerifyResult, view: View, warnings_fail: bool, out: TextIO) -> None:
    """Table, JSON or Markdown, as the view says (the CLI offers no other format here)."""
    if view.format is Format.JSON:
        out.write(verify_json(result, warnings_fail))
    elif view.format is Format.MARKDOWN:
        out.write(verify_markdown(result, warnings_fail))
    else:
        write_lines(verify_lines(result, warnings_fail, view.width), out, view.color)
