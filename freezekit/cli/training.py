"""`freezekit groups`: the optimizer parameter groups of a config's `optimizer:` section (thin: parse, run, render).

Registered on app.py's `app` when this module is imported (cli/__init__.py does it)."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from ..core.choice import Choice
from .app import app
from .error_boundary import warn
from .options import TRAINING, ModelOptions, between, format_option, with_options
from .output import write_stdout
from .rule_order import OrderedRulesCommand
from .settings_of import settings_of


class GroupsFormat(Choice):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"


FormatOpt = Annotated[
    GroupsFormat,
    format_option(GroupsFormat),
]
LrOpt = Annotated[
    Optional[float],
    typer.Option(
        "--lr",
        metavar="RATE",
        callback=between(0.0),
        rich_help_panel=TRAINING,
        help="Base learning rate: show each group's lr.",
    ),
]


@app.command("groups", cls=OrderedRulesCommand)
@with_options(ModelOptions)
def groups(m: ModelOptions, fmt: FormatOpt = GroupsFormat.TABLE, lr: LrOpt = None) -> None:
    """Print the optimizer parameter groups of the config's 'optimizer:' section (layer, lr scale, weight decay)."""
    from ..render.terminal import stdout_width
    from ..render.training_render import write_groups
    from ..training.groups_command import run_groups

    view = run_groups(settings_of(m), lr)
    for warning in view.warnings:
        warn(warning)
    write_stdout(lambda: write_groups(view, fmt.value, sys.stdout, stdout_width()))
