"""The distributed options of `count` and `verify`, as option groups, and what the two commands do
with them (the work is in freezekit.distributed). No torch import here."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer

from ..core.dtypes import Dtype
from ..distributed.memory_plan import OptimizerKind, Strategy
from ..distributed.precision import Precision
from ..errors import UsageError
from ..render.view import Format, View
from .error_boundary import warn
from .options import ACTIVATIONS, DISTRIBUTED, MEMORY_PLAN, at_least, between, choices

if TYPE_CHECKING:
    from ..distributed.memory_plan import PlanOptions
    from ..distributed.results import DistResult
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
        help="Bytes per rank of parameters, gradients and optimizer state (and activations with --activations).",
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
        metavar="NAME",
        help="--memory-plan: how the ranks hold the state (default: ddp). Formulas: ddp, fsdp, zero1, zero2, "
        "zero3. Engines as they allocate (docs/memory.md): deepspeed-zero1, deepspeed-zero2, deepspeed-zero3, "
        "torch-ddp (with its gradient buckets), torch-fsdp2 (padded per tensor, largest unit unsharded).",
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
        help="--memory-plan: the parameters' storage dtype only (fp32, bf16, fp16 too; default: the --precision's, else as stored).",
    ),
]
PrecisionOpt = Annotated[
    Optional[Precision],
    typer.Option(
        "--precision",
        rich_help_panel=MEMORY_PLAN,
        metavar=choices(Precision),
        help="--memory-plan: fp32/bf16/fp16 keep parameters, gradients and states in one dtype; bf16-mixed and "
        "fp16-mixed count 2 B per parameter, 2 B per gradient and K B of fp32 master + states per trainable "
        "parameter (K 12 Adam, 8 SGD momentum, 4 SGD), frozen ones without a master (default: as stored).",
    ),
]
BucketViewOpt = Annotated[
    bool,
    typer.Option(
        "--ddp-bucket-view",
        rich_help_panel=MEMORY_PLAN,
        help="--strategy torch-ddp: DDP's gradients are views into its buckets, so no bucket copy is counted.",
    ),
]
ActivationsOpt = Annotated[
    bool,
    typer.Option(
        "--activations",
        rich_help_panel=ACTIVATIONS,
        help="--memory-plan: add the bytes autograd saves for backward (one forward on the meta device, in train()).",
    ),
]
PlanBatchOpt = Annotated[
    Optional[int],
    typer.Option("--batch-size", metavar="N", rich_help_panel=ACTIVATIONS, help="--activations: samples per rank."),
]
SeqLenOpt = Annotated[
    Optional[int],
    typer.Option(
        "--seq-len", metavar="TOKENS", rich_help_panel=ACTIVATIONS, help="--activations: tokens per sample (hf:)."
    ),
]
PlanInputShapeOpt = Annotated[
    Optional[str],
    typer.Option(
        "--input-shape",
        metavar="C,H,W",
        rich_help_panel=ACTIVATIONS,
        help="--activations: one input without the batch dimension (default: as verify infers it).",
    ),
]
CheckpointingOpt = Annotated[
    Optional[str],
    typer.Option(
        "--checkpointing",
        metavar="TYPES",
        rich_help_panel=ACTIVATIONS,
        help="--activations: module types under activation checkpointing, e.g. LlamaDecoderLayer.",
    ),
]
DdpOpt = Annotated[
    Optional[str],
    typer.Option(
        "--ddp",
        metavar="N|env",
        rich_help_panel=DISTRIBUTED,
        help="Run N real processes under DistributedDataParallel (gloo on CPU, nccl on CUDA); "
        "env: be one rank of the job torchrun or srun started (RANK, WORLD_SIZE, MASTER_ADDR ...).",
    ),
]
FsdpOpt = Annotated[
    Optional[str],
    typer.Option(
        "--fsdp",
        metavar="N|env",
        rich_help_panel=DISTRIBUTED,
        help="Run N real processes under FSDP2 (fully_shard); env: be one rank of the launcher's job.",
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
    precision: PrecisionOpt = None
    ddp_bucket_view: BucketViewOpt = False
    activations: ActivationsOpt = False
    batch_size: PlanBatchOpt = None
    seq_len: SeqLenOpt = None
    input_shape: PlanInputShapeOpt = None
    checkpointing: CheckpointingOpt = None

    def stage_plan_options(self) -> "PlanOptions | None":
        """count --stages: the memory plan each stage gets (None without --memory-plan); the
        per-model options (units, activations) are one usage error."""
        self.requested(Format.JSON)  # the options' own pairing rules
        if self.shard_by is not None or self.fsdp_flat or self.activations:
            raise UsageError(
                "--stages takes --memory-plan and its options, not --shard-by, --fsdp-flat or --activations"
            )
        return self.plan_options()

    def plan_options(self) -> "PlanOptions | None":
        """--memory-plan's options, checked (None without it)."""
        if not self.memory_plan:
            return None
        from ..distributed.memory_plan import plan_options

        return plan_options(
            self.strategy, self.world_size, self.optimizer, self.param_dtype, self.precision, self.ddp_bucket_view
        )

    def requested(self, fmt: Format) -> bool:
        """Whether count adds sections; a UsageError for options that go with a missing one."""
        planned = (self.world_size, self.strategy, self.optimizer, self.param_dtype, self.precision)
        if any((*planned, self.ddp_bucket_view, self.activations)) and not self.memory_plan:
            raise UsageError(
                "--world-size, --strategy, --optimizer, --param-dtype, --precision, --ddp-bucket-view and "
                "--activations go with --memory-plan"
            )
        shaped = (self.batch_size, self.seq_len, self.input_shape, self.checkpointing)
        if any(v is not None for v in shaped) and not self.activations:
            raise UsageError("--batch-size, --seq-len, --input-shape and --checkpointing go with --activations")
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
    from ..distributed.activation_forecast import activation_options
    from ..distributed.options import parse_types
    from ..distributed.sections import count_sections as sections_of
    from ..distributed.sections import flat_error
    from ..pipeline.commands import run_audit
    from .progress import status

    shard_by = parse_types(d.shard_by) if d.shard_by is not None else None
    plan = d.plan_options()
    acts = activation_options(d.batch_size, d.seq_len, d.input_shape, d.checkpointing) if d.activations else None
    done = run_audit(Command.COUNT, settings, progress=status)
    report = done.report
    units = shard_by is not None or d.fsdp_flat or (plan is not None and plan.strategy is Strategy.TORCH_FSDP2)
    inventory = done.loaded.inventory if units else None
    activations = None
    if acts is not None and plan is not None:
        from ..distributed.activation_forecast import forecast_activations

        with status(f"Forecasting the activations of {settings.source.text}"):
            activations = forecast_activations(settings, done.plan, acts, plan.precision, done.loaded.model)
    sections = sections_of(inventory, report.plan, shard_by, d.fsdp_flat, plan, activations)
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
    from ..distributed.run import failure_message
    from ..distributed.run import verify_distributed as run
    from ..errors import VerifyError
    from .progress import status

    if opts.joined is not None:  # one rank of the launcher's job: rank 0 reports, every rank exits alike
        from ..distributed.join import verify_joined

        joined = verify_joined(settings, opts, warnings_fail)
        if joined.result is not None:
            _report(joined.result, fmt, warnings_fail)
        if joined.error is not None:
            raise joined.error
        return
    with status(f"Verifying {settings.source.text} on {opts.world_size} ranks"):
        result = run(settings, opts)
    _report(result, fmt, warnings_fail)
    message = failure_message(result, warnings_fail)
    if message:
        raise VerifyError(message)


def _report(result: "DistResult", fmt: Format, warnings_fail: bool) -> None:
    """The report on stdout, its warnings on stderr."""
    from ..distributed.render import write_dist
    from ..verify.result import warned

    write_dist(result, fmt, warnings_fail, sys.stdout)
    for warning in result.warnings:
        warn(warning)
    for c in warned(result.checks, warnings_fail):
        warn(f"{c.name}: {c.detail}")
