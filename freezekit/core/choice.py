"""Closed sets of choices as enums, carried from the boundary (CLI, config, API) all the way in."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from ..errors import FreezekitError

C = TypeVar("C", bound="Choice")


class Choice(str, Enum):
    """A str enum that prints as its value (in f-strings, JSON and Typer's choices alike)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(str(m.value) for m in cls)

    @classmethod
    def parse(cls: type[C], value: object, error: type[FreezekitError], what: str) -> C:
        """The member named `value`, or `error` listing the choices (for values from the Python API)."""
        try:
            return cls(value)
        except ValueError:
            raise error(f"{what} '{value}' is not one of {', '.join(cls.values())}") from None
