"""Plain-text tables that never cut a name, sized to their content, streamed line by line.

A table is a list of columns and a list of rows of strings. The width of each column is its
widest cell; nothing is padded out to a terminal that is not there. When a width limit is given
(a terminal), the columns that may give way do so, in order: `shrink` columns are cut down to
their header (with '…'), then `drop` columns disappear, lowest `drop` first. A `keep` column (a
parameter or module name) is never shortened: a name longer than the terminal makes the line
longer, not the name shorter.

Lines come out as segments `(text, style)`, style None or a rich style name, so one layout serves
the plain writer, the ANSI writer, rich's HTML/SVG export and the notebook's HTML. Pure: no rich.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

Segment = tuple[str, str | None]
Line = list[Segment]
GAP = "  "
ELLIPSIS = "…"


@dataclass(frozen=True)
class Column:
    header: str
    justify: str = "left"  # left | right | center
    keep: bool = False  # a name: never shortened, never dropped
    shrink: bool = False  # may be cut (with '…') down to its header's width
    drop: int = 0  # > 0: may be dropped; lower numbers go first
    style: Callable[[str], str | None] | None = None  # style of a cell, from its text


def _fit(text: str, width: int, justify: str) -> str:
    if len(text) > width:
        return text[: max(width - 1, 0)] + ELLIPSIS
    if justify == "right":
        return text.rjust(width)
    if justify == "center":
        return text.center(width)
    return text.ljust(width)


def layout(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], max_width: int | None
) -> tuple[list[int], list[int]]:
    """(indices of the columns shown, their widths) for a line of at most `max_width` characters."""
    widths = [len(c.header) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    shown = list(range(len(columns)))
    if max_width is None:
        return shown, widths

    def total() -> int:
        return sum(widths[i] for i in shown) + len(GAP) * (len(shown) - 1)

    for i in shown:
        if total() <= max_width:
            break
        if columns[i].shrink:
            widths[i] = max(len(columns[i].header), widths[i] - (total() - max_width))
    for i in sorted((i for i in shown if columns[i].drop), key=lambda i: columns[i].drop):
        if total() <= max_width:
            break
        shown.remove(i)
    return shown, [widths[i] for i in shown]


def table_lines(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    max_width: int | None = None,
    title: str | None = None,
    header: bool = True,
) -> Iterator[Line]:
    """The title, the header and its rule, then one line per row, produced one at a time."""
    shown, widths = layout(columns, rows, max_width)
    if title:
        yield [(title, "bold")]
    if header:
        yield [(_line_text([columns[i].header for i in shown], [columns[i].justify for i in shown], widths), "bold")]
        yield [(GAP.join("─" * w for w in widths), "dim")]
    justify = [columns[i].justify for i in shown]
    styles = [columns[i].style for i in shown]
    last = len(shown) - 1
    if not any(styles):
        for row in rows:
            yield [(_line_text([row[i] for i in shown], justify, widths), None)]
        return
    for row in rows:
        line: Line = []
        for k, i in enumerate(shown):
            text = _cell(row[i], widths[k], justify[k], k == last)
            style_of = styles[k]
            style = style_of(row[i]) if style_of else None
            if style:
                stripped = text.rstrip() if justify[k] == "left" else text
                line.append((stripped, style))
                if len(stripped) < len(text):
                    line.append((text[len(stripped) :], None))
            else:
                line.append((text, None))
            if k < last:
                line.append((GAP, None))
        yield line


def _cell(text: str, width: int, justify: str, last: bool) -> str:
    """A cell padded to its column; the last column of a line is not padded with trailing blanks."""
    if last and justify == "left" and len(text) <= width:
        return text
    return _fit(text, width, justify)


def _line_text(cells: Sequence[str], justify: Sequence[str], widths: Sequence[int]) -> str:
    last = len(cells) - 1
    return GAP.join(_cell(cell, widths[k], justify[k], k == last) for k, cell in enumerate(cells))


def plain(line: Line) -> str:
    return "".join(text for text, _ in line).rstrip()
