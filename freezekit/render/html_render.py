"""The report as HTML for notebooks (FreezeReport._repr_html_): the table's own lines in a <pre>,
so names are never cut and columns line up. Every text is escaped."""

from __future__ import annotations

import html

from ..core.report import Report
from .table_render import report_lines
from .view import View

CSS = {
    "bold": "font-weight:bold",
    "dim": "opacity:.6",
    "green": "color:#2a7f2a",
    "red": "color:#b22222",
    "bold red": "font-weight:bold;color:#b22222",
    "cyan": "color:#1f7a8c",
    "yellow": "color:#b8860b",
}


def render_html(report: Report, view: View) -> str:
    out = []
    for line in report_lines(report, view):
        out.append(
            "".join(
                f'<span style="{CSS[style]}">{html.escape(text)}</span>' if style and text else html.escape(text)
                for text, style in line
            ).rstrip()
        )
    return '<pre style="line-height:1.25">' + "\n".join(out) + "</pre>"
