"""The parent side of `verify --ddp N` / `--fsdp N`: plan from the inventory, launch the ranks,
compare what they report with each other and with the plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..core.name_lists import first_names
from ..core.plan import Plan
from ..errors import FreezekitError, UsageError, VerifyError
from ..pipeline.audit import load, plan_for
from ..pipeline.settings import Settings
from ..sources.registry import source_type
from ..verify.result import Check
from .ddp_check import UNFINISHED_REDUCTION, translate
from .memory_plan import MemoryPlan, PlanOptions, Split
from .plan_of import plan_of
from .precision import Precision
from .results import (
    AGREEMENT,
    ENGINE_NAMES,
    STRATEGY_OF,
    DistOptions,
    DistResult,
    Engine,
    Job,
    RankReport,
)
from .units import fsdp_units, unit_map

if TYPE_CHECKING:
    from .launch import RankOutcome


def error_for(code: int, message: str) -> FreezekitError:
    """The error class carrying `code` (a rank raised it; its class stayed in the child)."""
    stack: list[type[FreezekitError]] = [FreezekitError]
    found: list[type[FreezekitError]] = []
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    match = next((c for c in found[1:] if int(c.exit_code) == code), VerifyError)
    return match(message)


def _freeze_hint(names: tuple[str, ...], plan: Plan) -> str:
    """-p arguments freezing exactly `names`: a whole module when all its parameters are listed."""
    missing = set(names)
    by_module: dict[str, list[str]] = {}
    for d in plan.decisions:
        by_module.setdefault(d.param.module, []).append(d.param.name)
    picks = []
    for module, params in by_module.items():
        if module and all(p in missing for p in params):
            picks.append(module)
            missing -= set(params)
    picks += sorted(missing)
    return " ".join(f"-p '{p}'" for p in picks[:6]) + (" ..." if len(picks) > 6 else "")


def _same_across(ranks: tuple[RankReport, ...], attr: str) -> list[str]:
    first = getattr(ranks[0], attr)
    return sorted({n for r in ranks[1:] for n, d in getattr(r, attr).items() if first.get(n) != d})


def _agrees(measured: int, planned: int) -> bool:
    return measured == planned or (planned > 0 and abs(measured - planned) <= AGREEMENT * planned)


def mean_split(ranks: tuple[RankReport, ...], part: str) -> Split:
    n = len(ranks)
    return Split(
        round(sum(getattr(r, part).frozen for r in ranks) / n),
        round(sum(getattr(r, part).trainable for r in ranks) / n),
    )


def largest_split(ranks: tuple[RankReport, ...], part: str) -> Split:
    """The most any rank holds of `part`, frozen and trainable apart: what a per-rank plan promises
    (FSDP2's rank 0, whose dim-0 chunks are never short, holds the most optimizer state)."""
    return Split(max(getattr(r, part).frozen for r in ranks), max(getattr(r, part).trainable for r in ranks))


def memory_disagreements(ranks: tuple[RankReport, ...], expected: MemoryPlan) -> list[str]:
    out = []
    for part, plan_part in (
        ("params", expected.params),
        ("grads", expected.grads),
        ("optimizer_state", expected.optimizer_state),
    ):
        got = largest_split(ranks, part)
        for side in ("frozen", "trainable"):
            if not _agrees(getattr(got, side), getattr(plan_part, side)):
                out.append(f"{part} {side}: measured {getattr(got, side):,} B, planned {getattr(plan_part, side):,} B")
    buckets = [r.buckets for r in ranks if r.buckets is not None]
    if buckets and expected.buffers is not None and not _agrees(max(buckets), expected.buffers.total):
        out.append(f"DDP gradient buckets: measured {max(buckets):,} B, planned {expected.buffers.total:,} B")
    return out


STORED_AS_FP32 = {
    Engine.DDP: "autocast computes in bfloat16, DDP keeps float32 parameters, gradients and optimizer states",
    Engine.FSDP: (
        "MixedPrecisionPolicy(param_dtype=bfloat16, reduce_dtype=float32) keeps float32 parameter shards "
        "(the bfloat16 copies are transient), float32 gradient shards and optimizer states"
    ),
}
MEASURED = {
    Engine.DDP: "params, grads and optimizer state, frozen and trainable, and DDP's gradient buckets (its logging data)",
    Engine.FSDP: (
        "params and grads as allocated (dim 0 padded), optimizer state, frozen and trainable; the transient "
        "unsharded units (engine buffers) are not measured"
    ),
}


def _memory_detail(opts: DistOptions) -> str:
    """What was compared; under bfloat16, why the stored bytes are float32."""
    plan = f"plan {STRATEGY_OF[opts.engine]}"
    if opts.dtype != "bfloat16":
        return f"{MEASURED[opts.engine]}; {plan}"
    return (
        f"{MEASURED[opts.engine]}; {STORED_AS_FP32[opts.engine]}: {plan} under bf16-mixed, not the plain "
        "bf16-mixed formula (2 B per parameter and gradient), which this engine does not allocate"
    )


def _steps_text(steps: int, ranks: int) -> str:
    return f"{steps} step{'s' if steps != 1 else ''} on {ranks} ranks"


def _checks(opts: DistOptions, ranks: tuple[RankReport, ...], plan: Plan, expected: MemoryPlan) -> list[Check]:
    errors = sorted({r.engine_error for r in ranks if r.engine_error})
    ddp = opts.engine is Engine.DDP
    accepted = Check(
        f"{ENGINE_NAMES[opts.engine]} accepted the frozen model" + (" (find_unused_parameters=False)" if ddp else ""),
        not errors,
        _steps_text(min(r.steps_done for r in ranks), len(ranks))
        if not errors
        else "; ".join(translate(e) for e in errors),
    )
    unreduced = ddp and any(UNFINISHED_REDUCTION in e for e in errors)
    checks = [accepted, *_gradient_checks(ddp, unreduced, ranks, plan), *_digest_checks(ranks, plan)]
    off = memory_disagreements(ranks, expected)
    checks.append(
        Check(
            f"measured bytes match the memory plan (the largest rank, within {AGREEMENT:.0%})",
            not off,
            _memory_detail(opts) if not off else "; ".join(off),
            severity="warning",
        )
    )
    return checks


def _gradient_checks(ddp: bool, unreduced: bool, ranks: tuple[RankReport, ...], plan: Plan) -> list[Check]:
    """Every trainable tensor got a gradient (an error under DDP, which fails on them), no frozen one did."""
    no_grad = tuple(sorted({n for r in ranks for n in r.no_grad}))
    if no_grad:
        fix = (
            f"freeze them ({_freeze_hint(no_grad, plan)}) or pass find_unused_parameters=True to DDP "
            "(it then walks the autograd graph after every forward)"
            if ddp
            else "freeze them or use them: they hold optimizer-ready memory for nothing"
        )
        grad_detail = f"{len(no_grad)} trainable tensors got no gradient: {first_names(no_grad)}; {fix}"
    else:
        grad_detail = "every trainable tensor got a gradient on every rank"
    with_grad = tuple(sorted({n for r in ranks for n in r.frozen_with_grad}))
    return [
        Check(
            "trainable parameters received a gradient",
            not no_grad,
            grad_detail,
            no_grad,
            severity="error" if ddp or unreduced else "warning",
        ),
        Check(
            "frozen parameters have no gradient",
            not with_grad,
            "no frozen tensor got a gradient on any rank"
            if not with_grad
            else f"{first_names(with_grad)} got a gradient",
            with_grad,
        ),
    ]


def _digest_checks(ranks: tuple[RankReport, ...], plan: Plan) -> list[Check]:
    """Frozen tensors unchanged and equal on every rank; trainable ones equal after the steps."""
    checks = []
    if all(r.frozen_digest or not any(not d.trainable for d in plan.decisions) for r in ranks):
        moved = sorted({n for r in ranks for n in r.frozen_changed} | set(_same_across(ranks, "frozen_digest")))
        checks.append(
            Check(
                "frozen parameters bit-identical on every rank",
                not moved,
                f"{len(ranks[0].frozen_digest)} frozen tensors unchanged and equal on {len(ranks)} ranks"
                if not moved
                else f"moved or differ between ranks: {first_names(moved)}",
                tuple(moved),
            )
        )
    if all(r.trainable_digest for r in ranks):
        differ = _same_across(ranks, "trainable_digest")
        checks.append(
            Check(
                "trainable parameters identical across ranks after the steps",
                not differ,
                f"{len(ranks[0].trainable_digest)} trainable tensors equal on {len(ranks)} ranks "
                "(gradients were averaged)"
                if not differ
                else f"differ between ranks: {first_names(differ)}",
                tuple(differ),
            )
        )
    return checks


def failure_message(result: DistResult, warnings_fail: bool) -> str | None:
    """The one line the CLI exits 10 with: DDP's unused-parameter failure said with its fix, else
    every failed check."""
    failed = result.failures(warnings_fail)
    if not failed:
        return None
    no_grad = tuple(sorted({n for r in result.ranks for n in r.no_grad}))
    if result.engine is Engine.DDP and no_grad and any(UNFINISHED_REDUCTION in r.engine_error for r in result.ranks):
        names = first_names(no_grad)
        return (
            f"DDP (find_unused_parameters=False) fails on this freeze: {len(no_grad)} trainable tensors get no "
            f"gradient ({names}), so DDP raises 'Expected to have finished reduction in the prior iteration' at "
            f"the next forward; freeze them ({result.freeze_hint}) or pass find_unused_parameters=True to DDP "
            "(it then walks the autograd graph after every forward)"
        )
    return "; ".join(f"{c.name}: {c.detail}" for c in failed)


@dataclass(frozen=True)
class Prepared:
    """What the parent (or every joined rank) knows before the ranks run."""

    job: Job
    plan: Plan
    backend: str
    unit_of: Mapping[str, str] = field(default_factory=dict)  # FSDP: each parameter's unit (units.unit_map)


def verify_distributed(settings: Settings, opts: DistOptions) -> DistResult:
    """Spawn `opts.world_size` local ranks, and assess what they report."""
    from .launch import launch
    from .worker import run_rank

    prepared = prepare(settings, opts)
    outcomes = launch(run_rank, prepared.job, opts.world_size, prepared.backend, opts.timeout_s)
    return assess(opts, prepared, outcomes)


def _backend(opts: DistOptions, local_ranks: int) -> str:
    if not opts.device.startswith("cuda"):
        return "gloo"
    import torch

    if torch.cuda.device_count() < local_ranks:
        raise UsageError(
            f"--device cuda with {local_ranks} ranks on this machine needs {local_ranks} GPUs; "
            f"{torch.cuda.device_count()} found"
        )
    return "nccl"


def prepare(settings: Settings, opts: DistOptions, local_ranks: int | None = None) -> Prepared:
    """The plan from the inventory (meta device) and the job every rank receives; a UsageError for what
    is wrong before any rank starts. `local_ranks`: the ranks sharing this machine's GPUs."""
    from ..adapter.synthetic_inputs import DEFAULT_BATCH
    from ..verify.runner import input_family

    source = settings.source
    if not source_type(source.kind).builds_model(source):
        raise UsageError("verify runs training steps and needs a model; MODEL is a checkpoint file")
    backend = _backend(opts, opts.world_size if local_ranks is None else local_ranks)
    # meta device: the plan needs no weights
    loaded = load(replace(settings, needs_values=False, source=replace(source, weights=None, weights_file=None)))
    plan = plan_for(loaded.inventory, settings)
    if not any(d.trainable for d in plan.decisions):
        raise UsageError(f"--{opts.engine}: every parameter is frozen, so there is nothing to train or synchronise")
    shard_by: tuple[str, ...] = ()
    unit_of: dict[str, str] = {}
    if opts.engine is Engine.FSDP:
        shard_by = fsdp_units(loaded.inventory, plan, opts.shard_by).shard_by
        unit_of = unit_map(loaded.inventory, plan, shard_by)
    family = input_family(source)
    if family == "custom" and opts.input_shape is None:
        raise UsageError(
            f"cannot infer an input for '{source.text}'; pass --input-shape C,H,W (without the batch size)"
        )
    batch_size = opts.batch_size or DEFAULT_BATCH
    job = Job(settings, opts, family, shard_by, batch_size, tuple(d.param.name for d in plan.decisions))
    return Prepared(job, plan, backend, unit_of)


def assess(opts: DistOptions, prepared: Prepared, outcomes: "list[RankOutcome]") -> DistResult:
    """The ranks' reports compared with each other and with the plan; the worst rank's error if one failed."""
    failed = [o for o in outcomes if not o.ok]
    if failed:
        # a rank that died explains its peers' errors; else a FreezekitError (bad input) over the engine's
        worst = min(failed, key=lambda o: (not o.died, o.exit_code == int(VerifyError.exit_code), o.rank))
        raise error_for(worst.exit_code, f"rank {worst.rank} of {opts.world_size}: {worst.error}")
    ranks = tuple(o.value for o in outcomes)
    plan, job = prepared.plan, prepared.job
    gone = set(ranks[0].missing)
    if gone:  # parameters the BatchNorm policy turned into buffers: no longer parameters to plan
        plan = replace(plan, decisions=tuple(d for d in plan.decisions if d.param.name not in gone))
    precision = Precision.BF16_MIXED if opts.dtype == "bfloat16" else None  # storage stays float32 (engine_torch.py)
    plan_options = PlanOptions(STRATEGY_OF[opts.engine], opts.world_size, opts.optimizer, precision=precision)
    static = plan_of(plan.decisions, plan_options, unit_of=prepared.unit_of)
    no_grad = frozenset(n for r in ranks for n in r.no_grad)
    expected = plan_of(plan.decisions, plan_options, without_gradient=no_grad, unit_of=prepared.unit_of)
    desc = f"{job.batch_size} synthetic inputs per rank"
    return DistResult(
        job.settings.source.text,
        opts.engine,
        opts.world_size,
        prepared.backend,
        opts.device,
        opts.optimizer,
        opts.steps,
        desc,
        tuple(_checks(opts, ranks, plan, expected)),
        static,
        expected,
        ranks,
        job.shard_by,
        plan.warnings,
        _freeze_hint(tuple(sorted(no_grad)), plan) if no_grad else "",
        opts.dtype,
    )
