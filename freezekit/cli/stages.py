"""`count --stages` and `freeze --stages`: the option, and what it runs (one row per stage of the
config's schedule; both commands compute the rows with core/stages.py and draw them with
render/training_render.py)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Callable, TextIO

import typer

from ..errors import UsageError
from ..render.view import Format
from .output import write_stdout

if TYPE_CHECKING:
    from ..core.stages import StageRow
    from ..core.training_config import Stage
    from ..distributed.memory_plan import PlanOptions
    from ..pipeline.settings import Settings

StagesOpt = Annotated[
    bool,
    typer.Option(
        "--stages",
        rich_help_panel="Training",
        help="One row per stage of the config's 'stages:' (at, trainable, frozen, newly unfrozen tensors and numel).",
    ),
]
FreezeStagesOpt = Annotated[
    bool,
    typer.Option(
        "--stages",
        rich_help_panel="Training",
        help="Print, instead of the per-parameter table, count --stages' rows: what each stage of the config's "
        "'stages:' freezes and unfreezes on top of this freeze, and the counts after it. The freeze itself "
        "(rules:, --save, --manifest, expectations) is unchanged.",
    ),
]


@dataclass(frozen=True)
class StageOptions:
    """count: the schedule's stages."""

    stages: StagesOpt = False


def require_stages(settings: "Settings") -> "tuple[Stage, ...]":
    """The config's schedule; exit 2 before any model is loaded when it has none."""
    stages = settings.training.stages
    if not stages:
        raise UsageError("--stages: the config has no 'stages:' section (see docs/training.md)")
    return stages


def stages_writer(
    command: str, source: str, rows: "tuple[StageRow, ...]", fmt: Format, memory: tuple[dict, ...] | None = None
) -> Callable[[TextIO], None]:
    from ..render.terminal import stdout_width
    from ..render.training_render import write_stages

    return lambda out: write_stages(source, rows, fmt.value, out, stdout_width(), command, memory)


def count_stages(settings: "Settings", fmt: Format, memory: "PlanOptions | None" = None) -> None:
    """`memory` (--memory-plan): each stage's plan per rank beside its row."""
    from ..core.stages import stage_plans, stage_rows
    from ..pipeline.audit import load, plan_for

    stages = require_stages(settings)
    loaded = load(settings)
    start = plan_for(loaded.inventory, settings)
    plans = stage_plans(loaded.inventory, start, stages)
    rows = stage_rows(loaded.inventory, start, stages, plans)
    plans_per_rank = None
    if memory is not None:
        from ..distributed.sections import plan_per_rank

        plans_per_rank = tuple(plan_per_rank(loaded.inventory, p, memory).to_dict() for p in plans)
    write = stages_writer("count", settings.source.text, rows, fmt, plans_per_rank)
    write_stdout(lambda: write(sys.stdout))
