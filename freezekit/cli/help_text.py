"""--help and usage errors that read like a command line's, not like Python.

Typer shows each parameter's Python type (`<str>`, `<list[str]>`, `<bool>`), puts required
arguments in braces (`{manifest}`), and passes pydantic's 'Value error, ' prefix through to
errors. freezekit's commands swap their parameters to the classes below: an option shows its
metavar (FILE, PATTERN, N) or its choices (table|json|...), a flag shows nothing, an argument
shows its own name (MODEL, [MODEL]).
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperOption


class CleanOption(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag:
            return None
        if self.metavar is not None:
            return self.metavar
        desc = self.type_descriptor
        if desc.is_choice and desc.choices:
            return "|".join(str(getattr(c, "value", c)) for c in desc.choices)
        return self.name.upper() if self.name else None

    def _get_number_range_help_str(self) -> str | None:
        return None  # "[x>=0]" is a Python-ism; the help text says what is allowed


class CleanArgument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw.upper()
        return (name if self.required else f"[{name}]") + ("..." if self.nargs != 1 else "")

    def _rich_display_name(self) -> str:
        return self.display_name_raw.upper()


def clean_params(params: list) -> None:
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
