"""`count --memory-plan --activations`: build the model on the meta device, apply the plan, feed it
the input `verify` would (224 px images, token ids, ...) and count what autograd saves for
backward (adapter/activations.py). Needs a model: a checkpoint-only source has no forward."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.plan import Plan
from ..core.suggest import did_you_mean
from ..errors import NoMatchError, UsageError
from ..sources.registry import source_type
from .options import parse_types
from .precision import Precision

if TYPE_CHECKING:
    from torch import nn

    from ..pipeline.settings import Settings


@dataclass(frozen=True)
class ActivationOptions:
    """The per-rank batch the forecast runs, and the unit types whose activations are checkpointed."""

    batch_size: int
    seq_len: int | None = None
    input_shape: tuple[int, ...] | None = None
    checkpointing: tuple[str, ...] = ()


def activation_options(
    batch_size: int | None, seq_len: int | None, input_shape: str | None, checkpointing: str | None
) -> ActivationOptions:
    """Checked before any model is built: one UsageError naming the flag."""
    from ..verify.options import parse_shape

    if batch_size is None or batch_size < 1:
        raise UsageError(f"--activations needs --batch-size N (per rank, at least 1), got {batch_size}")
    if seq_len is not None and seq_len < 1:
        raise UsageError(f"--seq-len {seq_len}: must be at least 1 token")
    types = parse_types(checkpointing, "--checkpointing") if checkpointing else ()
    return ActivationOptions(batch_size, seq_len, parse_shape(input_shape) if input_shape else None, types)


def _cast_inputs(model: "nn.Module", dtype: Any) -> None:
    """Floating inputs in the compute dtype, as the engines feed a half-precision model."""
    import torch

    def cast(x: Any) -> Any:
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            return x.to(dtype)
        if isinstance(x, (list, tuple)):
            return type(x)(cast(v) for v in x)
        return x

    def hook(module: "nn.Module", args: tuple, kwargs: dict) -> tuple:
        return cast(args), {k: cast(v) for k, v in kwargs.items()}

    model.register_forward_pre_hook(hook, with_kwargs=True)


def _check_types(model: "nn.Module", types: tuple[str, ...]) -> None:
    from ..adapter.activations import unit_types_present

    present = unit_types_present(model, types)
    known = sorted({c.__name__ for m in model.modules() for c in type(m).__mro__})
    for t in types:
        if t not in present:
            raise NoMatchError(f"--checkpointing {t}: no module of type {t} in this model{did_you_mean(t, known)}")


def forecast_activations(
    settings: "Settings", plan: Plan, opts: ActivationOptions, precision: Precision | None, model: Any = None
) -> int:
    """Bytes one rank saves for backward in one forward of `opts.batch_size` samples, in train().
    `model`: the one the audit built, when it built one (else built here, on meta)."""
    import torch

    from ..adapter.activations import saved_bytes
    from ..adapter.inventory import apply_plan
    from ..verify.runner import input_family

    source = settings.source
    if not source_type(source.kind).builds_model(source):
        raise UsageError(f"--activations needs a model to run, and {source.text} holds only tensors; name the model")
    if model is None:
        model = source_type(source.kind).load(source, False).model
    model = model.to("meta")
    apply_plan(model, plan)
    _check_types(model, opts.checkpointing)
    if precision is not None and precision.dtype != "float32":
        dtype = getattr(torch, precision.dtype)
        model.to(dtype)
        _cast_inputs(model, dtype)
    model.train()
    try:
        batch = _batch(model, source.text, input_family(source), opts)
    except (RuntimeError, ValueError, TypeError, OverflowError) as exc:  # sizes past int64, ...
        raise UsageError(
            f"--activations: cannot build a synthetic input of {opts.batch_size} samples: {_first_line(exc)}; "
            "lower --batch-size, --input-shape or --seq-len"
        ) from exc
    try:
        return saved_bytes(model, batch.call, opts.checkpointing)
    except (RuntimeError, ValueError, TypeError, AssertionError, NotImplementedError) as exc:
        raise UsageError(
            f"--activations: the forward on the meta device failed on the synthetic input ({batch.desc}): "
            f"{_first_line(exc)}; pass --input-shape C,H,W (or --seq-len TOKENS for hf:)"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].rstrip(".") if text else type(exc).__name__


def _batch(model: "nn.Module", name: str, family: str, opts: ActivationOptions) -> Any:
    if family == "transformers":
        from ..adapter.hf_inputs import hf_batch

        return hf_batch(model, name, opts.batch_size, "meta", opts.input_shape, opts.seq_len)
    from ..adapter.synthetic_inputs import make_batch

    return make_batch(model, name, family, opts.batch_size, "meta", opts.input_shape)
