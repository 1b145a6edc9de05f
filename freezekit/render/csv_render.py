"""CSV: one row per parameter (freeze), per module (--depth), or one row of totals (count)."""

from __future__ import annotations

import csv
from typing import TextIO

from ..core.report import Report
from .json_render import totals_dict
from .safe_text import csv_text
from .view import View

PARAM_COLUMNS = ("name", "shape", "numel", "dtype", "trainable", "module", "module_type", "rule", "aliases")
MODULE_COLUMNS = ("module", "total", "trainable", "frozen")


def write_csv(report: Report, view: View, out: TextIO) -> None:
    w = csv.writer(out, lineterminator="\n")
    if view.depth is not None:
        w.writerow(MODULE_COLUMNS)
        for r in view.modules(report):
            w.writerow((csv_text(r.name), r.total, r.trainable, r.frozen))
    elif view.parameters:
        w.writerow(PARAM_COLUMNS)
        for d in view.decisions(report):
            p = d.param
            w.writerow(
                (
                    csv_text(p.name),
                    "x".join(map(str, p.shape)),
                    p.numel,
                    p.dtype,
                    str(d.trainable).lower(),
                    csv_text(p.module),
                    csv_text(p.module_type),
                    csv_text(d.rule),
                    csv_text(" ".join(p.aliases)),
                )
            )
    else:
        totals = {k: v for k, v in totals_dict(report).items() if k != "bytes_by_dtype"}
        w.writerow(totals.keys())
        w.writerow(totals.values())
