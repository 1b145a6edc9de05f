"""GitHub-flavoured Markdown tables, for pull requests and experiment notes."""

from __future__ import annotations

from typing import AbstractSet, TextIO

from ..core.report import Report
from .norm_groups import affine_text, first_names, norm_groups
from .numbers import expectation_cells, shape_text, share_bar, summary_rows
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
    lines += _rows(report, view)
    if report.norms and view.parameters:
        lines += _norms(report, view)
    lines += _table(("Totals", ""), summary_rows(report), {1})
    if report.expectations:
        lines += _table(("Expectation", "Bound", "Actual", "Result"), expectation_cells(report), {1, 2})
    out.write("\n".join(lines))


def _rows(report: Report, view: View) -> list[str]:
    """One row per module (--depth) or per parameter (freeze); none for count's totals."""
    lines: list[str] = []
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
    return lines


def _norms(report: Report, view: View) -> list[str]:
    """The BatchNorm layers, one row each (--batchnorm-details) or one row per kind."""
    if view.batchnorm_details:
        return _table(
            ("Layer", "Type", "Affine", "Statistics", "Note"),
            [
                (markdown_code(n.name), n.type, affine_text(n), "update" if n.stats_update else "fixed", n.note)
                for n in report.norms
            ],
        )
    return _table(
        ("Type", "Affine", "Statistics", "Layers", "Note", "First layers"),
        [
            (
                n.type,
                affine_text(n),
                "update" if n.stats_update else "fixed",
                f"{len(names):,}",
                n.note,
                first_names(names),
            )
            for n, names in norm_groups(report.norms)
        ],
        {3},
    )
