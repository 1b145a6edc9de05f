"""--export: the rendered table as an HTML page or an SVG picture, to share in a review."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic_write import check_destination, write_text
from ..errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

EXPORT_SUFFIXES = (".html", ".htm", ".svg")


def check_export_path(path: str) -> None:
    if Path(path).suffix.lower() not in EXPORT_SUFFIXES:
        raise UsageError(f"--export {path}: the file name must end in .html or .svg")
    check_destination(path, force=True)  # a report is overwritten like a shell redirect


def save_export(console: "Console", path: str) -> None:
    if Path(path).suffix.lower() == ".svg":
        text = console.export_svg(title="freezekit")
    else:
        text = console.export_html()
    write_text(path, text, force=True)
