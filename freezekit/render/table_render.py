"""The human-readable report: per-parameter (or per-module) table, BatchNorm summary, totals footer
and expectations, as lines of styled segments (see text_table). Written to a terminal with colour,
to a pipe as plain text, or to rich for --export (HTML, SVG).

Long tables stream: each row becomes a line as it is written, so 100,000 parameters never build
one giant object. Names are never shortened (text_table's `keep` columns).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TextIO

from ..core.report import Report
from .norm_groups import affine_text, first_names, norm_groups
from .numbers import expectation_cells, shape_text, share_bar, summary_rows
from .safe_text import plain as safe
from .text_table import Column, Line, plain, table_lines
from .view import View


def _yes_no(text: str) -> str | None:
    return "green" if text == "yes" else "red"


def _result(text: str) -> str | None:
    return "green" if text == "ok" else "bold red"


def _name(name: str, aliases: tuple[str, ...] = ()) -> str:
    name = name if name.isprintable() else safe(name)
    return name + (f" (= {', '.join(safe(a) for a in aliases)})" if aliases else "")


def _parameter_lines(report: Report, view: View) -> Iterator[Line]:
    columns = (
        Column("Parameter", keep=True),
        Column("Shape", drop=2),
        Column("Params", "right", drop=3),
        Column("Trainable", "center", style=_yes_no),
        Column("Rule", shrink=True, drop=1),
    )
    rows = [
        (
            _name(d.param.name, d.param.aliases),
            shape_text(d.param.shape),
            f"{d.param.numel:,}",
            "yes" if d.trainable else "no",
            safe(d.rule),
        )
        for d in view.decisions(report)
    ]
    yield from table_lines(columns, rows, view.width, f"{safe(report.model.source)}: parameters")


def _module_lines(report: Report, view: View) -> Iterator[Line]:
    columns = (
        Column("Module", keep=True),
        Column("Total", "right", drop=4),
        Column("Trainable", "right", drop=2),
        Column("Frozen", "right", drop=3),
        Column("Frozen share", style=lambda _: "cyan", drop=1),
    )
    rows = [
        (
            _name(r.name) if r.name else "(model)",
            f"{r.total:,}",
            f"{r.trainable:,}",
            f"{r.frozen:,}",
            share_bar(r.frozen_share),
        )
        for r in view.modules(report)
    ]
    yield from table_lines(columns, rows, view.width, f"{safe(report.model.source)}: modules at depth {view.depth}")


def _norm_lines(report: Report, view: View) -> Iterator[Line]:
    title = f"BatchNorm layers (policy: {report.batchnorm_policy})"
    width = view.width
    columns: tuple[Column, ...]
    rows: list[tuple[str, ...]]
    if view.batchnorm_details:
        columns = (
            Column("Layer", keep=True),
            Column("Type", drop=2),
            Column("Affine"),
            Column("Statistics"),
            Column("Note", shrink=True, drop=1),
        )
        rows = [
            (_name(n.name), n.type, affine_text(n), "update" if n.stats_update else "fixed", n.note)
            for n in report.norms
        ]
        yield from table_lines(columns, rows, width, title)
        return
    columns = (
        Column("Type"),
        Column("Affine"),
        Column("Statistics"),
        Column("Layers", "right"),
        Column("Note", shrink=True, drop=2),
        Column("First layers", drop=1),
    )
    rows = [
        (n.type, affine_text(n), "update" if n.stats_update else "fixed", f"{len(names):,}", n.note, first_names(names))
        for n, names in norm_groups(report.norms)
    ]
    count = len(report.norms)
    yield from table_lines(
        columns, rows, width, f"{title}: {count:,} layer{'s' if count != 1 else ''} (--batchnorm-details lists each)"
    )


def report_lines(report: Report, view: View) -> Iterator[Line]:
    """Every line of the report, in order, with a blank line between sections."""
    if view.depth is not None:
        yield from _module_lines(report, view)
        yield []
    elif view.parameters:
        yield from _parameter_lines(report, view)
        yield []
    if report.norms and view.parameters:
        yield from _norm_lines(report, view)
        yield []
    for key, value in summary_rows(report):
        yield [(f"{key}: ", "bold"), (value, None)]
    if report.expectations:
        yield []
        columns = (
            Column("Expectation"),
            Column("Bound", "right"),
            Column("Actual", "right"),
            Column("Result", style=_result),
        )
        yield from table_lines(columns, expectation_cells(report), view.width, "Expectations")


# -- writers ---------------------------------------------------------------------------------
ANSI = {"bold": "1", "dim": "2", "green": "32", "red": "31", "bold red": "1;31", "cyan": "36", "yellow": "33"}


def ansi(line: Line) -> str:
    return "".join(f"\x1b[{ANSI[style]}m{text}\x1b[0m" if style and text else text for text, style in line).rstrip()


def write_lines(lines: Iterable[Line], out: TextIO, color: bool = False) -> None:
    """Any table's lines (text_table), in colour or as plain text: every table freezekit prints
    goes through here, so names are never cut in any of them."""
    to_text = ansi if color else plain
    for line in lines:
        out.write(to_text(line) + "\n")


def status_style(text: str) -> str | None:
    """A check's result: pass, warn or FAIL."""
    return {"pass": "green", "FAIL": "bold red"}.get(text, "yellow")


def write_table(report: Report, view: View, out: TextIO) -> None:
    """Write the report line by line (a 100,000-row table starts appearing at once), in colour
    when the view says so, as wide as the view's width (None: as wide as the content)."""
    to_text = ansi if view.color else plain
    write = out.write
    for line in report_lines(report, view):
        write(to_text(line) + "\n")


def export(report: Report, view: View, path: str) -> str:
    """The report as an HTML page or an SVG picture (rich's exporters), as wide as its widest line."""
    from rich.console import Console
    from rich.text import Text

    lines = list(report_lines(report, replace(view, width=None)))
    width = max((sum(len(t) for t, _ in line) for line in lines), default=80)
    console = Console(
        record=True, file=io.StringIO(), width=max(width, 40), color_system="truecolor", force_terminal=True
    )
    for line in lines:
        console.print(Text.assemble(*[(t, s or "") for t, s in line]), no_wrap=True, overflow="ignore", crop=False)
    if path.lower().endswith(".svg"):
        return console.export_svg(title="freezekit")
    return console.export_html()
