"""`freezekit groups`: one row per optimizer parameter group, as a table, JSON, CSV or Markdown."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from ..core.groups import GroupsView
from .markdown_render import _table
from .safe_text import markdown_code
from .text_table import Column, plain, table_lines

HEADER = ("group", "layer", "lr_scale", "lr", "weight_decay", "tensors", "numel")


def _cells(view: GroupsView) -> list[tuple[str, ...]]:
    return [
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


def _header(view: GroupsView) -> list[int]:
    return [i for i, h in enumerate(HEADER) if h != "lr" or view.lr is not None]


def write_groups(view: GroupsView, fmt: str, out: TextIO, width: int | None = None) -> None:
    keep = _header(view)
    rows = [tuple(row[i] for i in keep) for row in _cells(view)]
    header = tuple(HEADER[i] for i in keep)
    if fmt == "json":
        out.write(json.dumps(view.as_dict(), indent=1) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([tuple(c.replace(",", "") for c in row) for row in rows])
    elif fmt == "markdown":
        lines = [f"## freezekit groups: {markdown_code(view.source)}", ""]
        out.write("\n".join(lines + _table(header, rows, frozenset(range(1, len(header))))))
    else:
        columns = [Column(h, "left" if i == 0 else "right") for i, h in enumerate(header)]
        title = f"{len(rows)} parameter groups of {view.source}"
        for line in table_lines(columns, rows, width, title=title):
            out.write(plain(line) + "\n")
