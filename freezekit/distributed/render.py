"""Rendering the distributed results: tables (render/text_table.py: names never cut), JSON dicts and Markdown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TextIO

from ..render.numbers import human_bytes
from ..render.safe_text import markdown_code, markdown_text
from ..render.safe_text import plain as safe
from ..render.table_render import status_style, write_lines
from ..render.text_table import Column, Line, table_lines
from ..render.view import Format
from .deepspeed_plan import ASSUMES as ZERO3_ASSUMES
from .deepspeed_plan import ZERO12_ASSUMES
from .memory_plan import MemoryPlan, Split, Strategy
from .results import ENGINE_NAMES, DistResult, Engine
from .run import mean_split
from .sections import CountSections, sections_dict

if TYPE_CHECKING:
    from ..core.report import Report
    from ..render.view import View

PARTS = (("params", "params"), ("grads", "grads"), ("optimizer", "optimizer_state"))


def _split(s: Split) -> dict[str, int]:
    return {"frozen": s.frozen, "trainable": s.trainable, "total": s.total}


def _status(ok: bool, severity: str) -> str:
    return "pass" if ok else ("FAIL" if severity == "error" else "warn")


def _parts(plan: MemoryPlan) -> list[tuple[str, Split]]:
    parts = [(label, getattr(plan, attr)) for label, attr in PARTS]
    if plan.buffers is not None:
        parts.append(("engine buffers", plan.buffers))
    if plan.activations is not None:
        parts.append(("activations", Split(0, plan.activations)))
    return [*parts, ("total", plan.total)]


def memory_rows(plan: MemoryPlan, human: bool) -> list[tuple[str, str, str]]:
    fmt = human_bytes if human else (lambda n: f"{n:,} B")
    return [(label, fmt(part.frozen), fmt(part.trainable)) for label, part in _parts(plan)]


def plan_title(plan: MemoryPlan) -> str:
    dtype = plan.param_dtype.dtype if plan.param_dtype else "stored dtypes"
    precision = f", {plan.precision} precision" if plan.precision else ""
    return f"Memory plan per rank: {plan.strategy}, world size {plan.world_size}, {plan.optimizer}, {dtype}{precision}"


ENGINE_NOTES = {
    Strategy.TORCH_DDP: "DDP: parameters, gradients and states as stored, replicated; engine buffers: its gradient "
    "buckets (a copy of every trainable gradient; none with --ddp-bucket-view)",
    Strategy.DEEPSPEED_ZERO1: ZERO12_ASSUMES.format(stage=1, whole=", every trainable gradient whole until reduced"),
    Strategy.DEEPSPEED_ZERO2: ZERO12_ASSUMES.format(stage=2, whole=""),
    Strategy.DEEPSPEED_ZERO3: ZERO3_ASSUMES,
    Strategy.TORCH_FSDP2: "FSDP2 (fully_shard): parameters, gradients and states as stored, dim 0 of each tensor "
    "padded to a multiple of the world size; engine buffers: the root unit and the largest other unit unsharded "
    "(transient, in the compute dtype) with their gradients before reduce-scatter",
}


def padding_line(plan: MemoryPlan) -> str | None:
    """torch-fsdp2 with a world size that some dim 0 does not divide: the padding, one line."""
    if not plan.padding:
        return None
    return (
        f"FSDP2 pads dim 0 of tensors to a multiple of {plan.world_size}: {plan.padding:,} B per rank "
        "(included in params, grads and optimizer)"
    )


def plan_assumptions(plan: MemoryPlan) -> str:
    """One line under the table: what the numbers assume and what they leave out."""
    if plan.strategy in ENGINE_NOTES:
        compute = f", computing in {plan.precision.dtype}" if plan.precision is not None else ""
        how = ENGINE_NOTES[plan.strategy] + compute
    elif plan.precision is not None and plan.precision.mixed:
        how = (
            "2 B per parameter, 2 B per gradient, fp32 master copy and states per trainable parameter "
            "(ZeRO paper accounting, no step counters)"
        )
    elif plan.precision is not None:
        how = f"parameters, gradients and optimizer states in {plan.precision.dtype}"
    else:
        how = "gradients and optimizer states in each parameter's dtype, no fp32 master copy"
    acts = "activations: one forward in train() mode" if plan.activations is not None else "activations not counted"
    return (
        f"Assumes {how}; quantized weights at their packed bytes; {acts}. Not modelled: allocator "
        "fragmentation, communication buffers, CUDA context."
    )


def section_lines(sections: CountSections, width: int | None = None) -> Iterator[Line]:
    """The FSDP units and the memory plan: text_table's rule (names never cut)."""
    if sections.units is not None:
        u = sections.units
        columns = (
            Column("Unit", keep=True),
            Column("Type", keep=True),
            *(Column(h, "right") for h in ("Frozen tensors", "Trainable tensors", "Frozen", "Trainable")),
            Column("Mixed", style=lambda text: "yellow" if text else None),
        )
        rows = [
            (
                safe(unit.label),
                safe(unit.type),
                f"{unit.frozen_tensors:,}",
                f"{unit.trainable_tensors:,}",
                f"{unit.frozen:,}",
                f"{unit.trainable:,}",
                "MIXED" if unit.mixed else "",
            )
            for unit in u.units
        ]
        title = f"FSDP units ({u.how}: {safe(', '.join(u.shard_by)) or 'none'}; the root last)"
        yield []
        yield from table_lines(columns, rows, width, title)
    if sections.memory is not None:
        m = sections.memory
        plan_columns = (Column("Part", keep=True), *(Column(h, "right") for h in ("Frozen", "Trainable", "Total")))
        plan_rows = [
            (label, f, t, human_bytes(part.total)) for (label, f, t), (_, part) in zip(memory_rows(m, True), _parts(m))
        ]
        yield []
        yield from table_lines(plan_columns, plan_rows, width, plan_title(m))
        padding = padding_line(m)
        if padding is not None:
            yield [(padding, None)]
        yield [(plan_assumptions(m), "dim")]


def section_markdown(sections: CountSections) -> str:
    lines: list[str] = []
    if sections.units is not None:
        u = sections.units
        lines += [
            "",
            f"### FSDP units ({u.how}: {markdown_text(', '.join(u.shard_by) or 'none')})",
            "",
            "| Unit | Type | Frozen tensors | Trainable tensors | Mixed |",
            "|---|---|---:|---:|---|",
        ]
        lines += [
            f"| {markdown_code(x.label)} | {markdown_text(x.type)} | {x.frozen_tensors} | {x.trainable_tensors} "
            f"| {'yes' if x.mixed else ''} |"
            for x in u.units
        ]
    if sections.memory is not None:
        m = sections.memory
        lines += ["", f"### {plan_title(m)}", "", "| Part | Frozen | Trainable | Total |", "|---|---:|---:|---:|"]
        lines += [
            f"| {label} | {f} | {t} | {human_bytes(part.total)} |"
            for (label, f, t), (_, part) in zip(memory_rows(m, True), _parts(m))
        ]
        padding = padding_line(m)
        lines += ["", *([padding, ""] if padding else []), plan_assumptions(m)]
    return "\n".join(lines) + "\n" if lines else ""


def _rank_dict(r: Any) -> dict[str, Any]:
    return {
        "rank": r.rank,
        "steps_done": r.steps_done,
        "output_dtype": r.output_dtype or None,
        "params": _split(r.params),
        "grads": _split(r.grads),
        "optimizer": _split(r.optimizer_state),
        "total": _split(r.params + r.grads + r.optimizer_state),
        "buckets": r.buckets,
        "engine_error": r.engine_error or None,
    }


def dist_dict(result: DistResult, warnings_fail: bool) -> dict[str, Any]:
    return {
        "schema": "freezekit.verify",
        "schema_version": 1,
        "model": result.model,
        "engine": result.engine.value,
        "world_size": result.world_size,
        "backend": result.backend,
        "device": result.device,
        "optimizer": result.optimizer.value,
        "dtype": result.dtype,
        "steps": result.steps,
        "input": result.input_desc,
        "shard_by": list(result.shard_by) if result.engine is Engine.FSDP else None,
        "ok": not result.failures(warnings_fail),
        "checks": [{**asdict(c), "offenders": list(c.offenders[:50])} for c in result.checks],
        "memory_plan": result.plan.to_dict(),
        "memory_expected": result.expected.to_dict(),
        "measured": [_rank_dict(r) for r in result.ranks],
    }


def dist_json(result: DistResult, warnings_fail: bool) -> str:
    return json.dumps(dist_dict(result, warnings_fail), indent=2) + "\n"


def write_dist(result: DistResult, fmt: Format, warnings_fail: bool, out: TextIO) -> None:
    """Table, JSON or Markdown (the CLI refuses CSV before running anything)."""
    if fmt is Format.JSON:
        out.write(dist_json(result, warnings_fail))
    elif fmt is Format.MARKDOWN:
        out.write(dist_markdown(result))
    else:
        write_lines(dist_lines(result), out)


def write_with_sections(report: Report, view: View, sections: CountSections, out: TextIO) -> None:
    """The count report, then its distributed sections; JSON as one document with `units`/`memory_plan`."""
    from ..render import write

    if view.format is Format.JSON:
        from ..render.json_render import report_dict

        out.write(json.dumps({**report_dict(report, view), **sections_dict(sections)}, indent=2) + "\n")
        return
    write(report, view, out)
    if view.format is Format.MARKDOWN:
        out.write(section_markdown(sections))
    else:
        write_lines(section_lines(sections, view.width), out, view.color)


def _memory_table_rows(result: DistResult) -> list[tuple[str, Split, Split, Split]]:
    rows = [("plan", result.plan.params, result.plan.grads, result.plan.optimizer_state)]
    if result.expected != result.plan:
        e = result.expected
        rows.append(("plan, given the parameters without gradient", e.params, e.grads, e.optimizer_state))
    rows += [(f"rank {r.rank}", r.params, r.grads, r.optimizer_state) for r in result.ranks]
    rows.append(
        (
            "mean over ranks",
            mean_split(result.ranks, "params"),
            mean_split(result.ranks, "grads"),
            mean_split(result.ranks, "optimizer_state"),
        )
    )
    return rows


def buffer_notes(result: DistResult) -> list[str]:
    """Under the bytes table: the engine's buffers (DDP's buckets measured, FSDP2's transient not) and the padding."""
    plan, notes = result.expected, []
    buckets = sorted({r.buckets for r in result.ranks if r.buckets is not None})
    if plan.buffers is not None and result.engine is Engine.DDP:
        got = " / ".join(f"{b:,}" for b in buckets) or "not reported"
        notes.append(f"DDP's gradient buckets: planned {plan.buffers.total:,} B, measured {got} B per rank")
    elif plan.buffers is not None:
        notes.append(
            f"FSDP2's transient (the root and the largest unit unsharded): planned {plan.buffers.total:,} B, not measured"
        )
    padding = padding_line(plan)
    return notes + ([padding] if padding else [])


def dist_lines(result: DistResult) -> Iterator[Line]:
    """The checks and the bytes per rank: text_table's rule (names never cut), sized to the content."""
    engine = ENGINE_NAMES[result.engine]
    units = f", units: {', '.join(result.shard_by) or 'the root only'}" if result.engine is Engine.FSDP else ""
    title = (
        f"verify {safe(result.model)} under {engine} on {result.world_size} ranks "
        f"({result.backend}, {result.device}, {result.optimizer}, {result.dtype}{safe(units)})"
    )
    columns = (Column("Check", keep=True), Column("Result", style=status_style), Column("Detail"))
    rows = [(safe(c.name), _status(c.ok, c.severity), safe(c.detail)) for c in result.checks]
    yield from table_lines(columns, rows, None, title)
    yield []
    byte_columns = (
        Column("", keep=True),
        *(Column(h, "right") for h in ("params frozen", "params trainable", "grads", "optimizer", "total")),
    )
    byte_rows = [
        (label, f"{p.frozen:,}", f"{p.trainable:,}", f"{g.total:,}", f"{o.total:,}", f"{p.total + g.total + o.total:,}")
        for label, p, g, o in _memory_table_rows(result)
    ]
    title = f"Bytes per rank after the last step (local tensors; plan: {result.plan.strategy})"
    yield from table_lines(byte_columns, byte_rows, None, title)
    for note in buffer_notes(result):
        yield [(note, "dim")]


def dist_markdown(result: DistResult) -> str:
    engine = ENGINE_NAMES[result.engine]
    lines = [
        f"## freezekit verify: {markdown_code(result.model)} under {engine} on {result.world_size} ranks "
        f"({result.backend})",
        "",
        "| Check | Result | Detail |",
        "|---|---|---|",
    ]
    lines += [
        f"| {markdown_text(c.name)} | {_status(c.ok, c.severity)} | {markdown_text(c.detail)} |" for c in result.checks
    ]
    lines += [
        "",
        "| bytes per rank | params frozen | params trainable | grads | optimizer | total |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {label} | {p.frozen:,} | {p.trainable:,} | {g.total:,} | {o.total:,} | {p.total + g.total + o.total:,} |"
        for label, p, g, o in _memory_table_rows(result)
    ]
    notes = buffer_notes(result)
    lines += ["", *notes] if notes else []
    return "\n".join(lines) + "\n"
