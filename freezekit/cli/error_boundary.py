"""The error boundary: every user error becomes one line on stderr and its exit code; bugs keep their traceback."""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from ..errors import ExitCode, FreezekitError, InterruptedByUser, Terminated, one_line
from ..render.terminal import silence_stdout
from .help_text import clean_params, tidy_click_message
from .interrupts import sigterm_as_interrupt


class FreezekitGroup(TyperGroup):
    """Turns every user error into one line on stderr and its exit code; bugs keep their traceback.

    A reader that closes the pipe early (`| head`) ends the run quietly with exit 0: the output
    was cut short on purpose, not by a failure (see docs/cli.md, exit codes)."""

    def get_params(self, ctx: Any) -> list:
        params = super().get_params(ctx)  # includes Typer's --install-completion, added late
        clean_params(params)
        return params

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: ANN001
        try:
            with sigterm_as_interrupt():
                rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except BrokenPipeError:
            silence_stdout()
            sys.exit(0)
        except typer.TyperException as exc:  # Click's errors (Typer 0.29: the public base of ClickException)
            usage_error(exc)
        except typer.Abort:
            error("aborted")
            sys.exit(ExitCode.INTERRUPTED)
        except FreezekitError as exc:
            if os.environ.get("FREEZEKIT_DEBUG"):
                raise
            error(str(exc))
            sys.exit(int(exc.exit_code))
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: Any):  # returns whatever the command returns
        # Typer turns KeyboardInterrupt into a silent exit 130; say it in one line instead.
        try:
            return super().invoke(ctx)
        except Terminated as exc:
            raise InterruptedByUser("terminated by SIGTERM") from exc
        except KeyboardInterrupt as exc:
            raise InterruptedByUser("interrupted by SIGINT") from exc


def usage_error(exc: typer.TyperException) -> NoReturn:
    """A usage error (exit 2, as Click's UsageError has), or another Click error with its own code."""
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    error(tidy_click_message(getattr(exc, "format_message", exc.__str__)()) + hint)
    sys.exit(getattr(exc, "exit_code", ExitCode.USAGE))


def error(message: str) -> None:
    typer.echo(f"freezekit: error: {one_line(message)}", err=True)


def warn(message: str) -> None:
    """Warnings carry names from files: one line each, control characters escaped (errors.one_line)."""
    typer.echo(f"freezekit: warning: {one_line(message)}", err=True)
