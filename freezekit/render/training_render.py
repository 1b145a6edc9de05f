"""`freezekit groups` and `count`/`freeze --stages`: one row per optimizer group or per stage, as a table, JSON,
CSV or Markdown. The core computes the rows (core/groups.py, core/stages.py); this only draws them."""

from __future__ import annotations

import csv
import json
from typing import Any, Sequence, TextIO

from ..core.groups import GroupsView
from ..core.stages import StageRow
from .markdown_render import _table
from .safe_text import csv_text, markdown_code
from .safe_text import plain as safe
from .text_table import Column, plain, table_lines

GROUP_HEADER = ("group", "layer", "lr_scale", "lr", "weight_decay", "tensors", "numel")
STAGE_HEADER = (
    "stage",
    "at",
    "lr_scale",
    "trainable",
    "frozen",
    "unfrozen_tensors",
    "unfrozen",
    "newly_frozen_tensors",
)


def _write(
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    data: Any,
    fmt: str,
    out: TextIO,
    width: int | None,
) -> None:
    if fmt == "json":
        out.write(json.dumps(data, indent=1) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([tuple(csv_text(c.replace(",", "")) for c in row) for row in rows])
    elif fmt == "markdown":
        lines = [f"## freezekit {title}", ""]
        out.write("\n".join(lines + _table(tuple(header), [tuple(r) for r in rows], frozenset(range(1, len(header))))))
    else:
        columns = [Column(h, "left" if i == 0 else "right") for i, h in enumerate(header)]
        for line in table_lines(columns, rows, width, title=safe(title)):
            out.write(plain(line) + "\n")


def write_groups(view: GroupsView, fmt: str, out: TextIO, width: int | None = None) -> None:
    keep = [i for i, h in enumerate(GROUP_HEADER) if h != "lr" or view.lr is not None]
    cells = [
        (
            r["name"],
            str(r["layer_id"]),
            f"{r['lr_scale']:.6g}",
            f"{r['lr']:.6g}" if "lr" in r else "",
            f"{r['weight_decay']:g}",
            str(r["tensors"]),
            f"{r['numel']:,}",
        )
        for r in view.rows()
    ]
    rows = [tuple(row[i] for i in keep) for row in cells]
    source = markdown_code(view.source) if fmt == "markdown" else view.source
    title = f"groups: {source}" if fmt == "markdown" else f"{len(rows)} parameter groups of {source}"
    _write(title, [GROUP_HEADER[i] for i in keep], rows, view.as_dict(), fmt, out, width)


def write_stages(
    source: str,
    stages: tuple[StageRow, ...],
    fmt: str,
    out: TextIO,
    width: int | None = None,
    command: str = "count",
    memory: tuple[dict, ...] | None = None,
) -> None:
    """`command`: which command printed them (count or freeze), named in the Markdown title.
    `memory` (count --stages --memory-plan): each stage's memory plan as `count --memory-plan`'s JSON
    object; the rows gain its per-rank total and the JSON stages its object."""
    rows: list[tuple[str, ...]] = [
        (
            str(s.stage),
            str(s.at),
            f"{s.lr_scale:g}",
            f"{s.trainable:,}",
            f"{s.frozen:,}",
            str(s.unfrozen_tensors),
            f"{s.unfrozen:,}",
            str(s.newly_frozen_tensors),
        )
        for s in stages
    ]
    stage_dicts = [s.as_dict() for s in stages]
    header: tuple[str, ...] = STAGE_HEADER
    if memory is not None:
        rows = [(*row, f"{m['per_rank']['total']:,}") for row, m in zip(rows, memory)]
        stage_dicts = [{**d, "memory_plan": m} for d, m in zip(stage_dicts, memory)]
        header = (*STAGE_HEADER, "per_rank_bytes")
    data = {"schema": "freezekit.stages", "schema_version": 1, "model": source, "stages": stage_dicts}
    title = f"{command} --stages: {markdown_code(source)}" if fmt == "markdown" else f"{len(rows)} stages of {source}"
    if memory:
        m = memory[0]
        precision = f", {m['precision']}" if m["precision"] else ""
        title += f" (memory plan per rank: {m['strategy']}, world size {m['world_size']}, {m['optimizer']}{precision})"
    _write(title, header, rows, data, fmt, out, width)
