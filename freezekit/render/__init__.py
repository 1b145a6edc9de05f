"""One renderer interface, several formats. Every FORMATS entry maps to a renderer (a test checks it).

Renderers are imported on use: the JSON path of a warm audit never pays for rich.
"""
from __future__ import annotations

import importlib
from typing import Callable

from ..core.report import Report

FORMATS = ("table", "json", "csv", "markdown")

# format -> (module, function): each function takes a Report and returns the text.
RENDERERS: dict[str, tuple[str, str]] = {
    "table": ("table_render", "render_table_text"),
    "json": ("json_render", "render_json"),
    "csv": ("csv_render", "render_csv"),
    "markdown": ("markdown_render", "render_markdown"),
}


def renderer(fmt: str) -> Callable[[Report], str]:
    module, function = RENDERERS[fmt]
    return getattr(importlib.import_module(f".{module}", __name__), function)


def render(report: Report, fmt: str) -> str:
    return renderer(fmt)(report)
