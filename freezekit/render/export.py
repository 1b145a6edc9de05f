"""--export: the rendered table as an HTML page or an SVG picture, to share in a review."""

from __future__ import annotations

from pathlib import Path

from ..atomic_write import check_destination, write_text
from ..core.report import Report
from ..errors import UsageError
from .view import View

EXPORT_SUFFIXES = (".html", ".htm", ".svg")


def check_export_path(path: str, inputs: tuple[str, ...] = ()) -> None:
    if Path(path).suffix.lower() not in EXPORT_SUFFIXES:
        raise UsageError(f"--export {path}: the file name must end in .html or .svg")
    check_destination(path, force=True, inputs=inputs)  # overwritten like a shell redirect, never an input


def save_export(report: Report, view: View, path: str) -> None:
    """The terminal's table (table_render), as wide as its widest line: names are never cut."""
    from .table_render import export

    write_text(path, export(report, view, path), force=True)
