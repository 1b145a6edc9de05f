"""PyTorch's own engines as they allocate: `--strategy torch-ddp` and `torch-fsdp2`. Pure: no torch.

The plain `ddp` and `fsdp` formulas (memory_plan.py) keep their names; these presets add what the
engines really hold. Both store parameters, gradients and optimizer states in the parameters' stored
dtype (`--param-dtype`, or a non-mixed `--precision`, or as stored): `torch.autocast` under DDP and
FSDP2's MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32) keep float32 parameters, gradients
and states, so a `*-mixed` precision only sets the dtype of FSDP2's transient unsharded copies.

torch-ddp: replicated, as `ddp` as stored, plus the reducer's gradient buckets in `buffers`: with
gradient_as_bucket_view=False (DDP's default) flat buckets hold a copy of every gradient of every
parameter with requires_grad (used or not), in its dtype; `--ddp-bucket-view` (gradients are views
into the buckets) drops them.

torch-fsdp2 (fully_shard; torch/distributed/fsdp/_fully_shard/_fsdp_param.py): each tensor is cut on
dim 0 into chunks of ceil(d0 / W) rows and every rank allocates a whole chunk (the last ranks' are
padded), so per rank, with `row` the bytes of one dim-0 slice:

    params     sum ceil(d0 / W) * row, frozen and trainable
    grads      the same for every trainable tensor with a gradient (views of the padded reduce-scatter output)
    optimizer  k * (rank 0's chunk, the largest) + s per trainable tensor (its step counter, not sharded)

`padding` is what this adds over the plain `fsdp` formula's even split. `buffers` is the transient:
the root unit stays unsharded from its forward to the end of backward, and each other unit is
all-gathered (W chunks, in the policy's param_dtype) for its forward and backward, with its trainable
gradients in the reduce-scatter input (W chunks, in the reduce dtype, the stored one); the root's plus
the largest other unit's. Prefetching the next unit and the bf16 gradients before their cast are not modelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from ..core.dtypes import Dtype
from ..core.plan import Decision
from ..core.records import ParamRecord
from .memory_plan import (
    STATES_PER_ELEMENT,
    STEP_COUNTER_BYTES,
    MemoryPlan,
    PlanOptions,
    Split,
    Strategy,
    ceil_div,
    memory_plan,
)
from .precision import Precision, param_bytes

TORCH_ENGINES = frozenset({Strategy.TORCH_DDP, Strategy.TORCH_FSDP2})


def storage_dtype(options: PlanOptions) -> str | None:
    """The dtype the engine stores parameters, gradients and states in (None: as stored)."""
    if options.param_dtype is not None:
        return options.storage
    if options.precision is not None and not options.precision.mixed:
        return options.precision.dtype
    return None


def torch_ddp_plan(
    decisions: Iterable[Decision],
    options: PlanOptions,
    without_gradient: frozenset[str] = frozenset(),
    activations: int | None = None,
) -> MemoryPlan:
    """DDP per rank: the plain `ddp` formula in the stored dtype, and its buckets as buffers."""
    decisions = tuple(decisions)
    storage = storage_dtype(options)
    as_stored = replace(options, strategy=Strategy.DDP, precision=None, param_dtype=_stored(options))
    plan = memory_plan(decisions, as_stored, without_gradient, activations)
    buckets = 0 if options.bucket_view else sum(param_bytes(d.param, None, storage) for d in decisions if d.trainable)
    return replace(
        plan,
        strategy=Strategy.TORCH_DDP,
        param_dtype=options.param_dtype,
        precision=options.precision,
        buffers=Split(0, buckets),
    )


def _stored(options: PlanOptions) -> Dtype | None:
    """`storage_dtype` as the --param-dtype of a plain formula."""
    dtype = storage_dtype(options)
    return Dtype(dtype) if dtype else None


def _chunk(p: ParamRecord, size: int, world_size: int) -> int:
    """The bytes of the padded dim-0 chunk every rank allocates for a tensor of `size` bytes."""
    rows = p.shape[0] if p.shape else 1
    if rows == 0:
        return 0
    return ceil_div(rows, world_size) * (size // rows)


def _compute_bytes(p: ParamRecord, precision: Precision | None, storage: str | None) -> int:
    """A parameter unsharded for compute: the policy's param_dtype under `*-mixed`, else stored."""
    if precision is not None and precision.mixed:
        return param_bytes(p, precision, None)
    return param_bytes(p, None, storage)


def _transient(
    decisions: tuple[Decision, ...],
    options: PlanOptions,
    unit_of: Mapping[str, str],
    without_gradient: frozenset[str],
) -> Split:
    """The root unit unsharded plus the largest other unit, each with its gradients before reduce-scatter."""
    w, storage = options.world_size, storage_dtype(options)
    units: dict[str, Split] = {}
    for d in decisions:
        p = d.param
        gathered = w * _chunk(p, _compute_bytes(p, options.precision, storage), w)
        if not d.trainable:
            part = Split(gathered, 0)
        else:
            grads = w * _chunk(p, param_bytes(p, None, storage), w) if p.name not in without_gradient else 0
            part = Split(0, gathered + grads)
        name = unit_of.get(p.name, "")
        units[name] = units.get(name, Split()) + part
    root = units.pop("", Split())
    largest = max(units.values(), key=lambda s: s.total, default=Split())
    return root + largest


def torch_fsdp2_plan(
    decisions: Iterable[Decision],
    options: PlanOptions,
    unit_of: Mapping[str, str],
    without_gradient: frozenset[str] = frozenset(),
    activations: int | None = None,
) -> MemoryPlan:
    """FSDP2 per rank; `unit_of` maps each parameter to its unit (units.unit_map)."""
    decisions = tuple(decisions)
    w, storage = options.world_size, storage_dtype(options)
    k, s = STATES_PER_ELEMENT[options.optimizer], STEP_COUNTER_BYTES[options.optimizer]
    params, grads, states = Split(), Split(), Split()
    for d in decisions:
        chunk = _chunk(d.param, param_bytes(d.param, None, storage), w)
        if not d.trainable:
            params += Split(chunk, 0)
            continue
        params += Split(0, chunk)
        if d.param.name not in without_gradient:
            grads += Split(0, chunk)
            states += Split(0, k * chunk + s)
    even = _even_split(decisions, options, without_gradient)
    padding = (params + grads + states).total - even.model_states.total
    return MemoryPlan(
        Strategy.TORCH_FSDP2,
        w,
        options.optimizer,
        options.param_dtype,
        params,
        grads,
        states,
        options.precision,
        activations,
        _transient(decisions, options, unit_of, without_gradient),
        padding,
    )


def _even_split(decisions: tuple[Decision, ...], options: PlanOptions, without_gradient: frozenset[str]) -> MemoryPlan:
    """The plain `fsdp` formula over the same stored bytes: what an even split without padding holds."""
    plain = replace(options, strategy=Strategy.FSDP, precision=None, param_dtype=_stored(options))
    return memory_plan(decisions, plain, without_gradient)


def engine_plan(
    decisions: Iterable[Decision],
    options: PlanOptions,
    unit_of: Mapping[str, str] | None = None,
    without_gradient: frozenset[str] = frozenset(),
    activations: int | None = None,
) -> MemoryPlan:
    """The plan of a torch engine preset (memory_plan.memory_plan dispatches here); torch-fsdp2 places
    parameters missing from `unit_of` in the root unit."""
    if options.strategy is Strategy.TORCH_FSDP2:
        return torch_fsdp2_plan(decisions, options, unit_of or {}, without_gradient, activations)
    return torch_ddp_plan(decisions, options, without_gradient, activations)
