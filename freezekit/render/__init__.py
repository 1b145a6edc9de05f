"""One renderer interface, several formats. Every FORMATS entry maps to a renderer (a test checks it)."""
from __future__ import annotations

from typing import Callable

from ..report import Report
from .csv_render import render_csv
from .json_render import render_json
from .markdown_render import render_markdown
from .table_render import render_table_text

FORMATS = ("table", "json", "csv", "markdown")

RENDERERS: dict[str, Callable[[Report], str]] = {
    "table": render_table_text,
    "json": render_json,
    "csv": render_csv,
    "markdown": render_markdown,
}


def render(report: Report, fmt: str) -> str:
    return RENDERERS[fmt](report)
