"""--help and usage errors that read like a command line's, not like Python.

Typer 0.29 shows each parameter's Python type (`<str>`, `<bool>`) beside it and passes pydantic's
'Value error, ' prefix through to errors. Every freezekit option declares its metavar (FILE, N,
table|json), every argument its name (MODEL), and ranges are checked by callbacks (options.between),
all public API. What public API cannot do: keep Typer from printing `<bool>` beside a flag and
`<str>` beside an argument. Typer builds its parameter objects itself, with no hook to choose their
class, so the commands below switch each one to a subclass that overrides only the public
`display_type_rich`. That switch (`__class__`) is why pyproject.toml pins typer to >=0.29,<0.30;
tests/cli/test_help.py checks the result on the pinned version.
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperOption


class CleanOption(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None if self.is_flag else super().display_type_rich(ctx)


class CleanArgument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None  # the argument's name (its metavar) is shown already


def clean_params(params: list) -> None:
    """Typer's parameters as CleanOption/CleanArgument (see the module docstring: pinned Typer)."""
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = CleanOption
        elif type(param) is TyperArgument:
            param.__class__ = CleanArgument


class FreezekitCommand(TyperCommand):
    """Every freezekit command: parameters shown as a CLI shows them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        clean_params(self.params)

    def get_params(self, ctx: Any) -> list:
        params = super().get_params(ctx)  # --help is added here
        clean_params(params)
        return params


_CHOICE = re.compile(r"^(?P<head>.*?)(?:Value error, )?(?P<value>'[^']*') is not one of (?P<choices>'[^.]*)\.?$")


def tidy_click_message(message: str) -> str:
    """ "Invalid value for '--format' / '-f': Value error, 'yaml' is not one of 'table', 'json'."
    -> "Invalid value for '--format' / '-f': 'yaml' is not one of table, json"."""
    message = message.replace("Value error, ", "")
    match = _CHOICE.match(message)
    if match:
        choices = ", ".join(c.strip().strip("'") for c in match["choices"].split(","))
        message = f"{match['head']}{match['value']} is not one of {choices}"
    return message
