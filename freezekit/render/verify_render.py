"""Rendering a VerifyResult: a rich table, JSON (schema freezekit.verify/1), or Markdown."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, TextIO

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from ..verify.result import VerifyResult
from .safe_text import cell, markdown_code, markdown_text
from .view import Format, View


def verify_dict(result: VerifyResult, strict: bool) -> dict[str, Any]:
    return {
        "schema": "freezekit.verify",
        "schema_version": 1,
        "model": result.model,
        "device": result.device,
        "dtype": result.dtype,
        "batch_size": result.batch_size,
        "input": result.input_desc,
        "ok": not result.failures(strict),
        "checks": [{**asdict(c), "offenders": list(c.offenders[:50])} for c in result.checks],
        "step": asdict(result.frozen_run),
        "all_trainable_step": asdict(result.all_trainable_run) if result.all_trainable_run else None,
        "speedup": round(result.speedup, 3) if result.speedup else None,
        "memory_ratio": round(result.memory_ratio, 3) if result.memory_ratio else None,
    }


def _status(ok: bool, severity: str) -> str:
    return "pass" if ok else ("FAIL" if severity == "error" else "warn")


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


def verify_renderables(result: VerifyResult) -> list[RenderableType]:
    checks = Table(
        title=cell(f"verify {result.model} on {result.device} ({result.dtype}, {result.input_desc})"),
        title_justify="left",
    )
    for col in ("Check", "Result", "Detail"):
        checks.add_column(col)
    for c in result.checks:
        style = "green" if c.ok else ("red" if c.severity == "error" else "yellow")
        checks.add_row(cell(c.name), Text(_status(c.ok, c.severity), style=style), cell(c.detail))
    steps = Table(title="Training step", title_justify="left", show_header=False)
    steps.add_column(style="bold")
    steps.add_column(justify="right")
    for k, v in _step_rows(result):
        steps.add_row(k, v)
    return [checks, steps]


def verify_markdown(result: VerifyResult) -> str:
    lines = [
        f"## freezekit verify: {markdown_code(result.model)} on {result.device} ({result.dtype})",
        "",
        "| Check | Result | Detail |",
        "|---|---|---|",
    ]
    lines += [
        f"| {markdown_text(c.name)} | {_status(c.ok, c.severity)} | {markdown_text(c.detail)} |" for c in result.checks
    ]
    lines += ["", "| Training step | |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in _step_rows(result)]
    return "\n".join(lines) + "\n"


def verify_json(result: VerifyResult, strict: bool) -> str:
    return json.dumps(verify_dict(result, strict), indent=2) + "\n"


def write_verify(result: VerifyResult, view: View, strict: bool, out: TextIO) -> None:
    """Table, JSON or Markdown, as the view says (the CLI refuses CSV before running anything)."""
    if view.format is Format.JSON:
        out.write(verify_json(result, strict))
    elif view.format is Format.MARKDOWN:
        out.write(verify_markdown(result))
    else:
        console = Console(file=out)
        for item in verify_renderables(result):
            console.print(item)
