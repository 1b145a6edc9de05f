"""rich tables for the terminal, also saved as HTML or SVG by --export."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console, JustifyMethod, RenderableType
from rich.table import Table
from rich.text import Text

from ..core.report import Report
from .numbers import expectation_rows, shape_text, share_bar, summary_rows
from .safe_text import cell
from .view import View


def _parameters_table(report: Report, view: View) -> Table:
    table = Table(title=cell(f"{report.model.source}: parameters"), title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("Parameter", "left"),
        ("Shape", "left"),
        ("Params", "right"),
        ("Trainable", "center"),
        ("Rule", "left"),
    )
    for col, justify in columns:
        table.add_column(col, justify=justify)
    for d in view.decisions(report):
        p = d.param
        name = cell(p.name)
        if p.aliases:
            name.append("\n  = ").append_text(cell(", ".join(p.aliases), style="dim"))
        mark = Text("yes", style="green") if d.trainable else Text("no", style="red")
        table.add_row(name, shape_text(p.shape), f"{p.numel:,}", mark, cell(d.rule))
    return table


def _modules_table(report: Report, view: View) -> Table:
    table = Table(title=cell(f"{report.model.source}: modules at depth {view.depth}"), title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("Module", "left"),
        ("Total", "right"),
        ("Trainable", "right"),
        ("Frozen", "right"),
        ("Frozen share", "left"),
    )
    for col, justify in columns:
        table.add_column(col, justify=justify)
    for r in view.modules(report):
        table.add_row(
            cell(r.name or "(model)"),
            f"{r.total:,}",
            f"{r.trainable:,}",
            f"{r.frozen:,}",
            Text(share_bar(r.frozen_share), style="cyan"),
        )
    return table


def _norms_table(report: Report) -> Table:
    table = Table(title=f"BatchNorm layers (policy: {report.batchnorm_policy})", title_justify="left")
    for col in ("Layer", "Type", "Affine", "Statistics", "Note"):
        table.add_column(col)
    for n in report.norms:
        affine = "none" if n.affine_trainable is None else ("trainable" if n.affine_trainable else "frozen")
        table.add_row(cell(n.name), cell(n.type), affine, "update" if n.stats_update else "fixed", cell(n.note))
    return table


def _pairs_table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=cell(title), title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key, value in rows:
        table.add_row(cell(key), cell(value))
    return table


def renderables(report: Report, view: View) -> list[RenderableType]:
    out: list[RenderableType] = []
    if view.depth is not None:
        out.append(_modules_table(report, view))
    elif view.parameters:
        out.append(_parameters_table(report, view))
    if report.norms and view.parameters:
        out.append(_norms_table(report))
    out.append(_pairs_table(f"{report.model.source}: totals", summary_rows(report)))
    if report.expectations:
        out.append(_pairs_table("Expectations", expectation_rows(report)))
    return out


def write_table(report: Report, view: View, out: TextIO) -> None:
    """Through rich: colours and the terminal's width when `out` is a terminal."""
    console = Console(file=out)
    for item in renderables(report, view):
        console.print(item)
