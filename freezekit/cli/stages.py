"""`count --stages`: its option, and what it runs (one row per stage of the config's schedule)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import UsageError
from ..render.view import Format
from .output import write_stdout

if TYPE_CHECKING:
    from ..pipeline.settings import Settings

StagesOpt = Annotated[
    bool,
    typer.Option(
        "--stages",
        rich_help_panel="Training",
        help="One row per stage of the config's 'stages:' (at, trainable, frozen, newly unfrozen tensors and numel).",
    ),
]


@dataclass(frozen=True)
class StageOptions:
    """count: the schedule's stages."""

    stages: StagesOpt = False


def count_stages(settings: "Settings", fmt: Format) -> None:
    from ..core.config import load_config
    from ..core.stages import stage_rows
    from ..pipeline.audit import load, plan_for
    from ..render.terminal import stdout_width
    from ..render.training_render import write_stages

    stages = load_config(settings.config_path).training.stages if settings.config_path else ()
    if not stages:
        raise UsageError("--stages: the config has no 'stages:' section (see docs/training.md)")
    loaded = load(settings)
    rows = stage_rows(loaded.inventory, plan_for(loaded.inventory, settings), stages)
    write_stdout(lambda: write_stages(settings.source.text, rows, fmt.value, sys.stdout, stdout_width()))
