"""GitHub-flavoured Markdown tables, for pull requests and experiment notes."""

from __future__ import annotations

from typing import AbstractSet, TextIO

from ..core.report import Report
from .numbers import expectation_rows, shape_text, share_bar, summary_rows
from .view import View


def _table(header: tuple[str, ...], rows: list[tuple], right: AbstractSet[int] = frozenset()) -> list[str]:
    def cell(value) -> str:  # noqa: ANN001
        return str(value).replace("|", "\\|")

    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def write_markdown(report: Report, view: View, out: TextIO) -> None:
    lines = [f"## freezekit {report.command}: `{report.model.source}`", ""]
    if view.depth is not None:
        lines += _table(
            ("Module", "Total", "Trainable", "Frozen", "Frozen share"),
            [
                (
                    f"`{r.name or '(model)'}`",
                    f"{r.total:,}",
                    f"{r.trainable:,}",
                    f"{r.frozen:,}",
                    share_bar(r.frozen_share),
                )
                for r in view.modules(report)
            ],
            {1, 2, 3},
        )
    elif view.parameters:
        lines += _table(
            ("Parameter", "Shape", "Params", "Trainable", "Rule"),
            [
                (
                    f"`{d.param.name}`" + (f" (= {', '.join(d.param.aliases)})" if d.param.aliases else ""),
                    shape_text(d.param.shape),
                    f"{d.param.numel:,}",
                    "yes" if d.trainable else "no",
                    d.rule,
                )
                for d in view.decisions(report)
            ],
            {2},
        )
    if report.norms and view.parameters:
        lines += _table(
            ("Layer", "Type", "Affine", "Statistics", "Note"),
            [
                (
                    f"`{n.name}`",
                    n.type,
                    "none" if n.affine_trainable is None else ("trainable" if n.affine_trainable else "frozen"),
                    "update" if n.stats_update else "fixed",
                    n.note,
                )
                for n in report.norms
            ],
        )
    lines += _table(("Totals", ""), summary_rows(report), {1})
    if report.expectations:
        lines += _table(("Expectation", ""), expectation_rows(report))
    out.write("\n".join(lines))
