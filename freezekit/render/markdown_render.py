"""GitHub-flavoured Markdown tables, for pull requests and experiment notes."""

from __future__ import annotations

from typing import AbstractSet, TextIO

from ..core.report import Report
from .numbers import expectation_rows, shape_text, share_bar, summary_rows
from .safe_text import Markdown, markdown_code, markdown_text
from .view import View


def _table(header: tuple[str, ...], rows: list[tuple], right: AbstractSet[int] = frozenset()) -> list[str]:
    def cell(value) -> str:  # noqa: ANN001 - code spans come escaped (Markdown), the rest is prose
        return markdown_text(value)

    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def write_markdown(report: Report, view: View, out: TextIO) -> None:
    lines = [f"## freezekit {report.command}: {markdown_code(report.model.source)}", ""]
    if view.depth is not None:
        lines += _table(
            ("Module", "Total", "Trainable", "Frozen", "Frozen share"),
            [
                (
                    markdown_code(r.name or "(model)"),
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
                    Markdown(
                        markdown_code(d.param.name)
                        + (f" (= {markdown_code(', '.join(d.param.aliases))})" if d.param.aliases else "")
                    ),
                    shape_text(d.param.shape),
                    f"{d.param.numel:,}",
                    "yes" if d.trainable else "no",
                    markdown_code(d.rule),
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
                    markdown_code(n.name),
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
