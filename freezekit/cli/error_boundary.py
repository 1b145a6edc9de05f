"""The error boundary: every user error becomes one line on stderr and its exit code; bugs keep their traceback."""

from __future__ import annotations

import os
import sys

import typer
from typer.core import TyperGroup

from ..errors import ExitCode, FreezekitError
from . import clickcompat as click


class FreezekitGroup(TyperGroup):
    """Turns every user error into one line on stderr and its exit code; bugs keep their traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: ANN001
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
            error(exc.format_message() + hint)
            sys.exit(ExitCode.USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
        except typer.Abort:
            error("aborted")
            sys.exit(130)
        except FreezekitError as exc:
            if os.environ.get("FREEZEKIT_DEBUG"):
                raise
            error(str(exc))
            sys.exit(int(exc.exit_code))
        sys.exit(rv if isinstance(rv, int) else 0)


def error(message: str) -> None:
    typer.echo(f"freezekit: error: {message}", err=True)


def warn(message: str) -> None:
    typer.echo(f"freezekit: warning: {message}", err=True)
