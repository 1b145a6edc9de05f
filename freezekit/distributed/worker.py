"""One rank of `verify --ddp N` / `--fsdp N`: build the model, freeze it, wrap it, train, measure.

Every rank builds the same model from the same seed, applies the same plan, then draws its own
synthetic batch (seeded by rank, so that gradients really need averaging).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..adapter.batchnorm import apply_policy
from ..adapter.inventory import apply_plan
from ..adapter.synthetic_inputs import make_batch
from ..core.plan import make_plan
from ..errors import UsageError
from ..sources.registry import source_type
from ..verify.runner import _allocation_failed
from . import ddp_check, fsdp_check
from .measure import Split, digests, measure
from .memory_plan import OptimizerKind
from .results import Engine, Job, RankReport

if TYPE_CHECKING:
    import torch
    from torch import nn


def make_optimizer(kind: OptimizerKind, params: list[Any]) -> "torch.optim.Optimizer":
    import torch

    if kind is OptimizerKind.ADAMW:
        return torch.optim.AdamW(params, lr=1e-3)
    if kind is OptimizerKind.ADAM:
        return torch.optim.Adam(params, lr=1e-3)
    return torch.optim.SGD(params, lr=1e-3, momentum=0.9 if kind is OptimizerKind.SGD_MOMENTUM else 0.0)


def _build(job: Job, device: str) -> "nn.Module":
    import torch

    settings = replace(job.settings, needs_values=True, use_cache=False)
    torch.manual_seed(0)
    loaded = source_type(settings.source.kind).load(settings.source, True)
    model = loaded.model
    plan = make_plan(loaded.inventory, settings.rules, settings.default, not settings.allow_unmatched)
    apply_plan(model, plan)
    apply_policy(model, settings.batchnorm)
    return model.to(device)


@dataclass
class _Steps:
    """What the training steps of one rank saw."""

    measured: tuple[Split, Split, Split]
    done: int = 0
    error: str = ""
    no_grad: tuple[str, ...] = ()
    frozen_with_grad: tuple[str, ...] = ()
    output_dtype: str = ""  # the dtype the forward computed in (bfloat16 under --dtype bfloat16)


def run_rank(rank: int, world_size: int, job: Job) -> RankReport:
    import warnings

    import torch

    # FSDP2 warns about any view returned by a wrapped module; the synthetic loss never edits outputs in place.
    warnings.filterwarnings("ignore", message="FSDP2-wrapped module .* returned a view tensor")

    local_rank = job.dist.joined.local_rank if job.dist.joined is not None else rank  # its GPU on this machine
    device = f"cuda:{local_rank}" if job.dist.device.startswith("cuda") else "cpu"
    model = _build(job, device)
    present = set(dict(model.named_parameters(remove_duplicate=False)))
    missing = tuple(n for n in job.param_names if n not in present)  # became buffers (BatchNorm policy frozen)
    wrapped_names: tuple[str, ...] = ()
    if job.dist.engine is Engine.DDP:
        try:
            engine: "nn.Module" = ddp_check.wrap(model, device)
        except (RuntimeError, ValueError) as exc:
            error = str(exc).strip().splitlines()[0]
            return RankReport(rank, *measure(model, None), steps_done=0, engine_error=error, missing=missing)
    else:
        engine, wrapped_names = fsdp_check.wrap(model, job.shard_by, device, world_size, job.dist.dtype)
    optimizer = make_optimizer(job.dist.optimizer, [p for p in model.parameters() if p.requires_grad])
    torch.manual_seed(1000 + rank)
    batch = _synthetic_batch(job, model, device)
    named = list(model.named_parameters())
    # after wrapping: the engine has given every rank rank 0's values (DDP's broadcast, our sync for FSDP)
    before = digests((n, p) for n, p in named if not p.requires_grad)
    steps = _train(job, model, engine, optimizer, batch, named)
    buckets = ddp_check.bucket_bytes(engine) if job.dist.engine is Engine.DDP else None
    after_frozen = trainable_after = {}
    if not steps.error or job.dist.engine is Engine.DDP:
        # FSDP's full tensors of sharded parameters need every rank; a failed rank would leave them waiting
        after_frozen = digests((n, p) for n, p in named if not p.requires_grad)
        trainable_after = digests((n, p) for n, p in named if p.requires_grad)
    return RankReport(
        rank,
        *steps.measured,
        steps_done=steps.done,
        no_grad=steps.no_grad,
        frozen_with_grad=steps.frozen_with_grad,
        output_dtype=steps.output_dtype,
        frozen_changed=tuple(n for n, d in after_frozen.items() if before.get(n) != d),
        frozen_digest=after_frozen,
        trainable_digest=trainable_after,
        engine_error=steps.error,
        wrapped=wrapped_names,
        missing=missing,
        buckets=buckets,
    )


def _synthetic_batch(job: Job, model: "nn.Module", device: str) -> Any:
    """This rank's batch; one it cannot allocate is a usage error, as single-process verify says it
    (exit 2), not the engine failing (exit 10)."""
    try:
        if job.family == "transformers":  # token ids, pixels or features from the model's config
            from ..adapter.hf_inputs import hf_batch

            return hf_batch(model, job.settings.source.text, job.batch_size, device, job.dist.input_shape)
        return make_batch(model, job.settings.source.text, job.family, job.batch_size, device, job.dist.input_shape)
    except RuntimeError as exc:
        if not _allocation_failed(exc):
            raise
        raise UsageError(
            f"cannot allocate a synthetic batch of {job.batch_size} on {device}; lower --batch-size"
        ) from exc


def _dtype_of(output: Any) -> str:
    """The dtype of the model's output (its first tensor: logits of a ModelOutput, a tuple's head)."""
    import torch

    if isinstance(output, torch.Tensor):
        return str(output.dtype).removeprefix("torch.")
    values = output.values() if isinstance(output, dict) else output if isinstance(output, (list, tuple)) else ()
    return next((d for d in map(_dtype_of, values) if d), "")


def _device_type(model: "nn.Module") -> str:
    return next(model.parameters()).device.type


def _autocast(job: Job, device_type: str) -> Any:
    """DDP under --dtype bfloat16: forward and loss under autocast, parameters and gradients stay
    float32. FSDP2 casts through its MixedPrecisionPolicy instead (fsdp_check.wrap)."""
    import contextlib

    import torch

    if job.dist.engine is Engine.DDP and job.dist.dtype == "bfloat16":
        return torch.autocast(device_type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _train(job: Job, model: "nn.Module", engine: "nn.Module", optimizer: Any, batch: Any, named: list) -> _Steps:
    """The timed steps; gradients are read after the first. An engine error after a step ran is
    recorded (the parent compares it); one before any step means the input did not fit the model."""
    steps = _Steps(measure(model, optimizer))
    try:
        engine.train()
        for step in range(job.dist.steps):
            with _autocast(job, _device_type(model)):
                output = batch.call(engine)
                loss = batch.loss(output)
            steps.output_dtype = steps.output_dtype or _dtype_of(output)
            loss.backward()
            if step == 0:
                steps.no_grad = tuple(n for n, p in named if p.requires_grad and p.grad is None)
                steps.frozen_with_grad = tuple(n for n, p in named if not p.requires_grad and p.grad is not None)
            optimizer.step()
            steps.measured = measure(model, optimizer)
            steps.done += 1
            if step < job.dist.steps - 1:
                optimizer.zero_grad(set_to_none=True)
        if job.dist.engine is Engine.DDP:
            with _autocast(job, _device_type(model)):
                batch.call(engine)  # DDP reports a reduction left unfinished at the next forward
    except (RuntimeError, ValueError, TypeError, AssertionError) as exc:
        steps.error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if steps.done == 0 and ddp_check.UNFINISHED_REDUCTION not in steps.error:  # the first step never ran
            raise UsageError(
                f"the training step failed on the synthetic input ({batch.desc}): {steps.error}; "
                "pass --input-shape C,H,W or --batch-size N"
            ) from exc
    return steps
