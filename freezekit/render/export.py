"""--export: the rendered table as an HTML page or an SVG picture, to share in a review."""

from __future__ import annotations

import io
from pathlib import Path

from ..atomic_write import check_destination, write_text
from ..core.report import Report
from ..errors import UsageError
from .view import View

EXPORT_SUFFIXES = (".html", ".htm", ".svg")


def check_export_path(path: str) -> None:
    if Path(path).suffix.lower() not in EXPORT_SUFFIXES:
        raise UsageError(f"--export {path}: the file name must end in .html or .svg")
    check_destination(path, force=True)  # a report is overwritten like a shell redirect


def save_export(report: Report, view: View, path: str) -> None:
    """The same tables as the terminal's (table_render.renderables), at the terminal's width."""
    from rich.console import Console

    from .table_render import renderables

    console = Console(file=io.StringIO(), record=True, width=Console().width)
    for item in renderables(report, view):
        console.print(item)
    if Path(path).suffix.lower() == ".svg":
        text = console.export_svg(title="freezekit")
    else:
        text = console.export_html()
    write_text(path, text, force=True)
