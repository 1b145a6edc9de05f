"""The click that Typer runs on: Typer 0.29+ vendors its own copy (typer._click), older ones use click."""

from __future__ import annotations

try:
    from typer._click import core, exceptions
except ImportError:  # Typer < 0.29
    from click import core, exceptions  # type: ignore[no-redef]

ClickException = exceptions.ClickException
UsageError = exceptions.UsageError

Context = core.Context
