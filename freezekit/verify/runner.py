"""verify: build the real model, apply the plan and BatchNorm policy, run real training steps,
and check what autograd did: frozen parameters got no gradient, trainable ones did, and frozen
BatchNorm statistics behaved as the policy says."""

from __future__ import annotations

import gc
from dataclasses import replace
from typing import TYPE_CHECKING

from ..adapter import zoo
from ..adapter.batchnorm import _affine_state, apply_policy, norm_layers
from ..adapter.inventory import apply_plan
from ..adapter.synthetic_inputs import DEFAULT_BATCH, make_batch
from ..adapter.training_step import run_steps
from ..core.batchnorm_policy import BatchNormPolicy, effective
from ..core.name_lists import first_names
from ..core.plan import Default, Plan
from ..errors import UsageError
from ..pipeline.audit import plan_for
from ..pipeline.settings import Settings
from ..sources.registry import source_type
from ..sources.spec import SourceKind, SourceSpec
from .options import VerifyOptions
from .result import Check, StepStats, VerifyResult

if TYPE_CHECKING:
    from torch import nn


def _prepare(settings: Settings, freeze: bool, device: str) -> tuple["nn.Module", Plan, list[str]]:
    loaded = source_type(settings.source.kind).load(settings.source, settings.materialize)
    model, inventory = loaded.model, loaded.inventory
    plan = plan_for(inventory, settings if freeze else replace(settings, rules=(), default=Default.TRAINABLE))
    apply_plan(model, plan)
    frozen_bn = [n for n, m in norm_layers(model) if _affine_state(m) is False] if freeze else []
    if freeze:
        apply_policy(model, settings.batchnorm)
    return model.to(device), plan, frozen_bn


def _stats(model: "nn.Module", names: list[str]) -> dict[str, dict]:
    return {
        n: {
            k: v.detach().clone()
            for k, v in model.get_submodule(n).named_buffers()
            if k in ("running_mean", "running_var", "num_batches_tracked")
        }
        for n in names
    }


def _run(settings: Settings, vopts: VerifyOptions, freeze: bool, family: str, batch_size: int):
    import torch

    model, plan, frozen_bn = _prepare(settings, freeze, vopts.device)
    before = _stats(model, frozen_bn)
    try:
        if family == "transformers":  # inputs from the model's config (token ids, pixels, log-mel features)
            from ..adapter.hf_inputs import hf_batch

            batch = hf_batch(model, settings.source.text, batch_size, vopts.device, vopts.input_shape)
        else:
            batch = make_batch(model, settings.source.text, family, batch_size, vopts.device, vopts.input_shape)
    except (torch.OutOfMemoryError, RuntimeError) as exc:
        if not _allocation_failed(exc):
            raise
        raise UsageError(
            f"cannot allocate a synthetic batch of {batch_size} on {vopts.device} "
            f"({_first_line(exc)}); lower --batch-size"
        ) from exc
    try:
        ms, mib, measure = run_steps(model, batch, vopts.device, vopts.dtype, vopts.steps, vopts.warmup)
    except torch.OutOfMemoryError as exc:
        raise UsageError(
            f"out of memory on {vopts.device} with a batch of {batch_size} ({batch.desc}); lower --batch-size"
        ) from exc
    except RuntimeError as exc:
        if not _allocation_failed(exc):
            raise UsageError(
                f"the training step failed on the synthetic input ({batch.desc}): {_first_line(exc)}; "
                "pass --input-shape C,H,W or --batch-size N"
            ) from exc
        raise UsageError(
            f"out of memory on {vopts.device} with a batch of {batch_size} ({batch.desc}); lower --batch-size"
        ) from exc
    except (ValueError, TypeError, AssertionError) as exc:
        raise UsageError(
            f"the training step failed on the synthetic input ({batch.desc}): "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}; "
            "pass --input-shape C,H,W or --batch-size N"
        ) from exc
    trainable = sum(d.param.numel for d in plan.decisions if d.trainable)
    stats = StepStats(round(ms, 3), round(mib, 1), measure, trainable, sum(d.param.numel for d in plan.decisions))
    return model, plan, frozen_bn, before, batch.desc, stats


def input_family(source: SourceSpec) -> str:
    """Which synthetic inputs a model takes (make_batch's families, or transformers' hf_batch)."""
    if source.kind == SourceKind.TORCHVISION:
        return zoo.family_of(source.ref)
    return {SourceKind.TIMM: "classification", SourceKind.HF: "transformers"}.get(source.kind, "custom")


def _allocation_failed(exc: BaseException) -> bool:
    """torch's CPU allocator raises a plain RuntimeError ("can't allocate memory"), CUDA an OutOfMemoryError."""
    import torch

    text = str(exc)
    return isinstance(exc, torch.OutOfMemoryError) or "can't allocate memory" in text or "out of memory" in text


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return " ".join(lines[0].split()) if lines else type(exc).__name__


def _checks(model: "nn.Module", plan: Plan, frozen_bn: list[str], before: dict, policy: BatchNormPolicy) -> list[Check]:
    params = dict(model.named_parameters())
    frozen_with_grad, unused = [], []
    for d in plan.decisions:
        p = params.get(d.param.name)
        if p is None:  # became a buffer (BatchNorm policy "frozen")
            continue
        if not d.trainable and p.grad is not None:
            frozen_with_grad.append(d.param.name)
        if d.trainable and p.grad is None:
            unused.append(d.param.name)
    n_frozen = sum(1 for d in plan.decisions if not d.trainable)
    n_trainable = len(plan.decisions) - n_frozen
    checks = [
        Check(
            "frozen parameters have no gradient",
            not frozen_with_grad,
            f"{n_frozen - len(frozen_with_grad)} of {n_frozen} frozen tensors have .grad None",
            tuple(frozen_with_grad),
        ),
        Check(
            "trainable parameters received a gradient",
            not unused,
            f"{n_trainable - len(unused)} of {n_trainable} trainable tensors got a gradient"
            + (
                f"; trainable but unused: {first_names(unused)}" + " (DDP would need find_unused_parameters=True)"
                if unused
                else ""
            ),
            tuple(unused),
            severity="warning",
        ),
    ]
    after = _stats(model, frozen_bn)
    changed = [n for n in frozen_bn if any(not _same(before[n][k], after[n].get(k)) for k in before[n])]
    if policy in (BatchNormPolicy.EVAL, BatchNormPolicy.FROZEN):
        checks.append(
            Check(
                f"frozen BatchNorm statistics unchanged (policy {policy})",
                not changed,
                f"{len(frozen_bn) - len(changed)} of {len(frozen_bn)} frozen BatchNorm layers bit-identical",
                tuple(changed),
            )
        )
    elif frozen_bn:
        checks.append(
            Check(
                "frozen BatchNorm statistics update (policy train)",
                True,
                f"{len(changed)} of {len(frozen_bn)} frozen BatchNorm layers updated their running "
                "statistics, as policy train allows; use --batchnorm eval to keep them",
                tuple(changed),
                severity="warning",
            )
        )
    return checks


def _same(a, b) -> bool:  # noqa: ANN001
    import torch

    return b is not None and a.shape == b.shape and torch.equal(a, b.to(a.device))


def verify(settings: Settings, vopts: VerifyOptions) -> VerifyResult:
    """`settings` must ask for real values (Settings.needs_values), as the CLI's verify does."""
    import torch

    source = settings.source
    if not source_type(source.kind).builds_model(source):
        raise UsageError("verify runs a training step and needs a model; MODEL is a checkpoint file")
    if vopts.device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here")
    family = input_family(source)
    batch_size = vopts.batch_size or DEFAULT_BATCH
    baseline = None
    if vopts.compare:  # everything trainable, same step, measured first on a fresh model
        model, *_, baseline = _run(settings, vopts, False, family, batch_size)
        del model
        gc.collect()
        if vopts.device.startswith("cuda"):
            torch.cuda.empty_cache()
    model, plan, frozen_bn, before, desc, stats = _run(settings, vopts, True, family, batch_size)
    checks = _checks(model, plan, frozen_bn, before, effective(settings.batchnorm))
    return VerifyResult(
        source.text, vopts.device, vopts.dtype, batch_size, desc, tuple(checks), stats, baseline, plan.warnings
    )
