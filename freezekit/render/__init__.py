"""One renderer interface, several formats. Every Format maps to a renderer (a test checks it).

A renderer takes the Report (what a command found), the View (how to show it) and a text stream.
Renderers are imported on use: the JSON path of a warm audit never pays for rich.
"""

from __future__ import annotations

import importlib
import io
from typing import Callable, TextIO

from ..core.report import Report
from .view import Format, View

# format -> (module, function): each function writes the Report, as the View says, to a stream.
RENDERERS: dict[Format, tuple[str, str]] = {
    Format.TABLE: ("table_render", "write_table"),
    Format.JSON: ("json_render", "write_json"),
    Format.CSV: ("csv_render", "write_csv"),
    Format.MARKDOWN: ("markdown_render", "write_markdown"),
}

Renderer = Callable[[Report, View, TextIO], None]


def renderer(fmt: Format) -> Renderer:
    module, function = RENDERERS[fmt]
    return getattr(importlib.import_module(f".{module}", __name__), function)


def write(report: Report, view: View, out: TextIO) -> None:
    renderer(view.format)(report, view, out)


def render(report: Report, view: View) -> str:
    buf = io.StringIO()
    write(report, view, buf)
    return buf.getvalue()
