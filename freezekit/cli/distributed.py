"""The distributed options of `count` and `verify`, as option groups, and what the two commands do
with them (the work is in freezekit.distributed). No torch import here."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer

from ..core.dtypes import Dtype
from ..distributed.memory_plan import OptimizerKind, Strategy
from ..errors import UsageError
from ..render.view import Format, View
from .error_boundary import warn
from .options import DISTRIBUTED, MEMORY_PLAN, at_least, between, choices

if TYPE_CHECKING:
    from ..pipeline.settings import Settings
    from ..verify.options import VerifyOptions

ShardByOpt = Annotated[
    Optional[str],
    typer.Option(
        "--shard-by",
        rich_help_panel=DISTRIBUTED,
        metavar="TYPES",
        help="FSDP unit types, e.g. TransformerEncoderLayer,LlamaDecoderLayer: list the units.",
    ),
]
FsdpFlatOpt = Annotated[
    bool,
    typer.Option(
        "--fsdp-flat",
        rich_help_panel=DISTRIBUTED,
        help="FSDP1 with use_orig_params=False: a unit mixing frozen and trainable parameters fails (exit 10).",
    ),
]
MemoryPlanOpt = Annotated[
    bool,
    typer.Option(
        "--memory-plan",
        rich_help_panel=MEMORY_PLAN,
        help="Bytes per rank of parameters, gradients and optimizer state.",
    ),
]
WorldSizeOpt = Annotated[
    Optional[int],
    typer.Option(
        "--world-size",
        rich_help_panel=MEMORY_PLAN,
        metavar="N",
        callback=at_least(1),
        help="Ranks for --memory-plan (default: 1).",
    ),
]
StrategyOpt = Annotated[
    Optional[Strategy],
    typer.Option(
        "--strategy",
        rich_help_panel=MEMORY_PLAN,
        metavar=choices(Strategy),
        help="--memory-plan: how the ranks hold the state (default: ddp).",
    ),
]
PlanOptimizerOpt = Annotated[
    Optional[OptimizerKind],
    typer.Option(
        "--optimizer",
        rich_help_panel=MEMORY_PLAN,
        metavar=choices(OptimizerKind),
        help="--memory-plan: the optimizer whose state is counted (default: adamw).",
    ),
]
ParamDtypeOpt = Annotated[
    Optional[str],  # parsed by plan_options: core/dtypes.Dtype, which also takes fp32, bf16, fp16
    typer.Option(
        "--param-dtype",
        rich_help_panel=MEMORY_PLAN,
        metavar=choices(Dtype),
        help="--memory-plan: parameters, gradients and optimizer state in this dtype (fp32, bf16, fp16 too; default: as stored).",
    ),
]
DdpOpt = Annotated[
    Optional[int],
    typer.Option(
        "--ddp",
        rich_help_panel=DISTRIBUTED,
        metavar="N",
        callback=at_least(1),
        help="Run N real processes under DistributedDataParallel (gloo on CPU, nccl on CUDA).",
    ),
]
FsdpOpt = Annotated[
    Optional[int],
    typer.Option(
        "--fsdp",
        rich_help_panel=DISTRIBUTED,
        metavar="N",
        callback=at_least(1),
        help="Run N real processes under FSDP2 (fully_shard).",
    ),
]
RunShardByOpt = Annotated[
    Optional[str],
    typer.Option(
        "--shard-by",
        rich_help_panel=DISTRIBUTED,
        metavar="TYPES",
        help="--fsdp: unit types, e.g. TransformerEncoderLayer (default: the repeated blocks).",
    ),
]
RunOptimizerOpt = Annotated[
    Optional[OptimizerKind],
    typer.Option(
        "--optimizer",
        rich_help_panel=DISTRIBUTED,
        metavar=choices(OptimizerKind),
        help="--ddp/--fsdp: the optimizer of the training steps (default: adamw).",
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        rich_help_panel=DISTRIBUTED,
        metavar="SECONDS",
        callback=between(1, 86400),
        show_default=False,
        help="--ddp/--fsdp: seconds before the ranks are stopped (1 to 86400; default: 300).",
    ),
]


@dataclass(frozen=True)
class CountDistOptions:
    """count: the FSDP units and the per-rank memory plan."""

    shard_by: ShardByOpt = None
    fsdp_flat: FsdpFlatOpt = False
    memory_plan: MemoryPlanOpt = False
    world_size: WorldSizeOpt = None
    strategy: StrategyOpt = None
    optimizer: PlanOptimizerOpt = None
    param_dtype: ParamDtypeOpt = None

    def requested(self, fmt: Format) -> bool:
        """Whether count adds sections; a UsageError for options that go with a missing one."""
        if (self.world_size or self.strategy or self.optimizer or self.param_dtype) and not self.memory_plan:
            raise UsageError("--world-size, --strategy, --optimizer and --param-dtype go with --memory-plan")
        wanted = self.shard_by is not None or self.fsdp_flat or self.memory_plan  # '' is a bad value, not none
        if wanted and fmt is Format.CSV:
            raise UsageError(
                "--shard-by, --fsdp-flat and --memory-plan print tables, JSON or Markdown, not --format csv"
            )
        return wanted


@dataclass(frozen=True)
class VerifyDistOptions:
    """verify: real processes under DDP or FSDP2."""

    ddp: DdpOpt = None
    fsdp: FsdpOpt = None
    shard_by: RunShardByOpt = None
    optimizer: RunOptimizerOpt = None
    timeout: TimeoutOpt = 300.0

    @property
    def requested(self) -> bool:
        return bool(self.ddp or self.fsdp or self.shard_by is not None or self.optimizer)


def count_sections(
    d: CountDistOptions, settings: "Settings", view: View, export: Optional[str], emit: Callable[..., None]
) -> None:
    """count with --shard-by/--fsdp-flat/--memory-plan: the report, its sections, exit 10 on a mixed flat unit."""
    from ..core.report import Command
    from ..distributed.memory_plan import plan_options
    from ..distributed.options import parse_types
    from ..distributed.sections import count_sections as sections_of
    from ..distributed.sections import flat_error
    from ..pipeline.commands import run_audit
    from .progress import status

    shard_by = parse_types(d.shard_by) if d.shard_by is not None else None
    plan = plan_options(d.strategy, d.world_size, d.optimizer, d.param_dtype) if d.memory_plan else None
    done = run_audit(Command.COUNT, settings, progress=status)
    report = done.report
    inventory = done.loaded.inventory if shard_by is not None or d.fsdp_flat else None
    sections = sections_of(inventory, report.plan, shard_by, d.fsdp_flat, plan)
    emit(report, view, export, sections)
    error = flat_error(inventory, report.plan, sections) if d.fsdp_flat and inventory is not None else None
    if error is not None:
        raise error


def verify_distributed(
    d: VerifyDistOptions,
    vopts: "VerifyOptions",
    make_settings: Callable[[], "Settings"],
    warnings_fail: bool,
    fmt: Format,
) -> None:
    """verify --ddp N / --fsdp N: real ranks on a process group; exit 10 with one line on failure."""
    from ..distributed.options import dist_options

    opts = dist_options(vopts, d.ddp, d.fsdp, d.shard_by, d.optimizer, d.timeout)
    settings = make_settings()
    from ..distributed.render import write_dist
    from ..distributed.run import failure_message
    from ..distributed.run import verify_distributed as run
    from ..errors import VerifyError
    from ..verify.result import warned
    from .progress import status

    with status(f"Verifying {settings.source.text} on {opts.world_size} ranks"):
        result = run(settings, opts)
    write_dist(result, fmt, warnings_fail, sys.stdout)
    for warning in result.warnings:
        warn(warning)
    for c in warned(result.checks, warnings_fail):
        warn(f"{c.name}: {c.detail}")
    message = failure_message(result, warnings_fail)
    if message:
        raise VerifyError(message)
