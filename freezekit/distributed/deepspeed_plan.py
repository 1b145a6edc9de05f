"""DeepSpeed ZeRO-3 as it allocates per rank (`--strategy deepspeed-zero3`), from the records. Pure.

What DeepSpeed 0.19.8's ZeRO-3 (runtime/zero/stage3.py, partition_parameters.py) keeps on each of
W ranks at its defaults, checked on 2 CPU ranks by benchmarks/deepspeed_plan.py:

    params      every parameter's partition: ceil(n / W) elements (DeepSpeed pads n to a multiple
                of W), frozen or not; and, on every rank, the whole padded copy of each parameter of
                at most 100,000 elements (stage3_param_persistence_threshold: never released; on one
                rank a gathered parameter is a view of its partition, no copy)
    grads       the trainable parameters' partitions, in the compute dtype (bf16 under bf16-mixed:
                DeepSpeed accumulates in the model dtype unless data_types.grad_accum_dtype says fp32)
    optimizer   the float32 master and states partitions of the trainable parameters (precision.py's
                state bytes, per padded partition), and one step counter per sub-group of at most
                sub_group_size (1e9) partition elements (torch's Adam/AdamW keep one per flat group)
    buffers     the reduce bucket (reduce_bucket_size, 5e8 elements of the gradient dtype, allocated
                once when anything trains, contiguous_gradients on) and the most parameter bytes
                gathered at once (whole and padded), replayed from the records by zero3_gather.py:
                each module gathered when it runs, stage3_prefetch_bucket_size (5e7 elements)
                prefetched ahead, stage3_max_reuse_distance (1e9) keeping what is used again soon

Not modelled: the fp32 gradient partition DeepSpeed builds for the optimizer step (transient, one
sub-group at a time), offload, communication scratch space, and a trace that differs from the
inventory's order (zero3_gather.py says what it assumes).
"""

from __future__ import annotations

from typing import Iterable

from ..core.plan import Decision
from ..core.records import DTYPE_BYTES
from .memory_plan import STATES_PER_ELEMENT, STEP_COUNTER_BYTES, MemoryPlan, PlanOptions, Split
from .precision import grad_bytes, param_bytes, state_bytes
from .zero3_gather import DEFAULTS, Held, Limits, peak_gathered

REDUCE_BUCKET = 500_000_000  # reduce_bucket_size: the gradient bucket's elements
SUB_GROUP = 1_000_000_000  # sub_group_size: partition elements per flat optimizer group


ASSUMES = (
    "DeepSpeed ZeRO-3 at its defaults: every part in partitions padded to the world size, parameters of at most "
    "100,000 elements also whole on every rank, one step counter per flat group; engine buffers: its reduce bucket "
    "and the most parameters gathered at once (prefetch and reuse distance replayed in inventory order)"
)


def _ceil_div(n: int, d: int) -> int:
    return -(-n // d)


def _share(total: int, part: int, whole: int) -> int:
    """`total` bytes of `whole` elements, for `part` of them (rounded up: packed weights)."""
    return _ceil_div(total * part, whole) if whole else 0


def _sub_groups(partitions: Iterable[int]) -> int:
    """DeepSpeed's flat optimizer groups: trainable partitions in order, closed at SUB_GROUP elements."""
    groups = open_group = 0
    for q in partitions:
        open_group += q
        if open_group >= SUB_GROUP:
            groups, open_group = groups + 1, 0
    return groups + (open_group > 0)


def _gathered(decisions: list[Decision], w: int, options: PlanOptions, limits: Limits) -> Split:
    """The most parameter bytes gathered at once (zero3_gather.py); none on one rank."""
    if w == 1:  # one rank "gathers" by viewing its partition: no copy
        return Split()
    storage = options.param_dtype.dtype if options.param_dtype else None
    held = [
        Held(
            d.param.module,
            d.param.numel,
            _share(param_bytes(d.param, options.precision, storage), _ceil_div(d.param.numel, w) * w, d.param.numel),
            d.trainable,
            d.param.numel <= limits.persistence,
        )
        for d in decisions
    ]
    return peak_gathered(held, limits)


def _reduce_bucket(decisions: list[Decision], options: PlanOptions) -> int:
    """The reduce bucket's bytes: REDUCE_BUCKET elements of the gradients' (communication) dtype."""
    if options.precision is not None:
        return REDUCE_BUCKET * DTYPE_BYTES[options.precision.dtype]
    first = next(d.param for d in decisions if d.trainable)
    storage = options.param_dtype.dtype if options.param_dtype else None
    return _share(grad_bytes(first, None, storage), REDUCE_BUCKET, first.numel)


def zero3_plan(
    decisions: Iterable[Decision], options: PlanOptions, activations: int | None = None, limits: Limits = DEFAULTS
) -> MemoryPlan:
    """DeepSpeed ZeRO-3's bytes per rank (module docstring); `limits`: its stage3_* settings."""
    w, precision = options.world_size, options.precision
    storage = options.param_dtype.dtype if options.param_dtype else None
    k = STATES_PER_ELEMENT[options.optimizer]
    decisions = list(decisions)
    params, grads, states, partitions = Split(), 0, 0, []
    for d in decisions:
        n = d.param.numel
        q = _ceil_div(n, w)
        size = param_bytes(d.param, precision, storage)
        held = _share(size, q, n) + (_share(size, q * w, n) if w > 1 and n <= limits.persistence else 0)
        params += Split(0, held) if d.trainable else Split(held, 0)
        if d.trainable:
            grads += _share(grad_bytes(d.param, precision, storage), q, n)
            states += _share(state_bytes(d.param, k, precision, storage), q, n)
            partitions.append(q)
    counters = STEP_COUNTER_BYTES[options.optimizer] * _sub_groups(partitions)
    buffers = _gathered(decisions, w, options, limits) + Split(
        0, _reduce_bucket(decisions, options) if partitions else 0
    )
    return MemoryPlan(
        options.strategy,
        w,
        options.optimizer,
        options.param_dtype,
        params,
        Split(0, grads),
        Split(0, states + counters),
        precision,
        activations,
        buffers,
    )
