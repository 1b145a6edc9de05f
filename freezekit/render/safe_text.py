"""Text from files and users made safe to print: never markup, never terminal control.

Parameter and module names come from checkpoints and factories other people wrote; patterns and
model names from the command line. Every renderer passes such text through one of these helpers,
so that
  * rich never reads it as markup (`[/x].w` is a name, not a closing tag; `re:[a-z]` keeps its class),
  * control and invisible characters (ESC, newlines, bidi overrides) are shown as escapes (`\\x1b`,
    `\\n`, `\\u202e`): a name can neither drive the terminal nor forge a line of output,
  * Markdown and CSV readers see the text, not syntax or a spreadsheet formula.
JSON needs none of this: the encoder escapes every control character and keeps names exact.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import one_line

if TYPE_CHECKING:
    from rich.text import Text

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@")
_BACKTICKS = re.compile(r"`+")
_MARKDOWN_ESCAPES = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|~&"})  # str.translate: one C pass


def plain(text: object) -> str:
    """The text with every non-printable character written as its Python escape; printable text
    is returned unchanged (the same rule as error messages: errors.one_line)."""
    return one_line(str(text))


def cell(text: object, style: str | None = None) -> Text:
    """A rich Text for a table cell or title: shown literally, never parsed as markup."""
    from rich.text import Text

    return Text(plain(text), style=style or "")


class Markdown(str):
    """Text already made safe for a Markdown table cell (what the two helpers below return)."""


def markdown_code(text: object) -> Markdown:
    """An inline code span showing the text exactly, in a GFM table cell: the fence is longer than
    any run of backticks inside, and `|` is escaped (GFM splits cells before reading code spans)."""
    body = plain(text)
    if "`" not in body:  # the common case, without the regex
        return Markdown("`" + body.replace("|", "\\|") + "`")
    fence = "`" * (max((len(m) for m in _BACKTICKS.findall(body)), default=0) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return Markdown(f"{fence}{pad}{body}{pad}{fence}".replace("|", "\\|"))


def markdown_text(text: object) -> Markdown:
    """Prose in a Markdown cell: the punctuation that Markdown, GFM tables or HTML would act on is
    backslash-escaped, so the reader sees the characters themselves. Already-safe text is kept."""
    if isinstance(text, Markdown):
        return text
    return Markdown(plain(text).translate(_MARKDOWN_ESCAPES))


def csv_text(text: object) -> str:
    """A CSV text cell: control characters escaped like everywhere else, and a cell a spreadsheet
    would run as a formula gets a leading `'` (the usual guard; the JSON output keeps names exact)."""
    out = plain(text)
    return "'" + out if out.startswith(FORMULA_STARTS) else out
