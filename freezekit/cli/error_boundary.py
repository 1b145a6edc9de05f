"""The error boundary: every user error becomes one line on stderr and its exit code; bugs keep their traceback."""

from __future__ import annotations

import os
import sys

import typer
from typer.core import TyperGroup

from ..errors import ExitCode, FreezekitError, InterruptedByUser, Terminated, one_line
from . import clickcompat as click
from .interrupts import sigterm_as_interrupt


class FreezekitGroup(TyperGroup):
    """Turns every user error into one line on stderr and its exit code; bugs keep their traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: ANN001
        try:
            with sigterm_as_interrupt():
                rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
            error(exc.format_message() + hint)
            sys.exit(ExitCode.USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
        except typer.Abort:
            error("aborted")
            sys.exit(ExitCode.INTERRUPTED)
        except FreezekitError as exc:
            if os.environ.get("FREEZEKIT_DEBUG"):
                raise
            error(str(exc))
            sys.exit(int(exc.exit_code))
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context):  # returns whatever the command returns
        # Typer turns KeyboardInterrupt into a silent exit 130; say it in one line instead.
        try:
            return super().invoke(ctx)
        except Terminated as exc:
            raise InterruptedByUser("terminated by SIGTERM") from exc
        except KeyboardInterrupt as exc:
            raise InterruptedByUser("interrupted by SIGINT") from exc


def error(message: str) -> None:
    typer.echo(f"freezekit: error: {one_line(message)}", err=True)


def warn(message: str) -> None:
    """Warnings carry names from files: one line each, control characters escaped (errors.one_line)."""
    typer.echo(f"freezekit: warning: {one_line(message)}", err=True)
