"""DeepSpeed ZeRO-3 as it allocates per rank (`--strategy deepspeed-zero3`), from the records, and the
engine buffers of its ZeRO-1 and ZeRO-2 (`zero12_phases`, this docstring's end). Pure.

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

ZeRO-1 and ZeRO-2 (runtime/zero/stage_1_and_2.py; their model states are memory_plan.py's formula) at
their defaults: the trainable parameters are flattened into one bf16 buffer per optimizer group (the
module's parameters become views of it: no copy; its length is padded to a multiple of 2W, a few
elements), each rank owning q = that length / W. The plan assumes one optimizer group, in the
inventory's order (more groups are flattened and partitioned apart: their edges fall elsewhere). `buffers` is the larger of two phases, neither
persistent:

    backward    the reduce bucket (reduce_bucket_size, 5e8 elements of the gradient dtype; allocated at
                the first gradient hook of every backward, contiguous_gradients on, overlap_comm off:
                one buffer; freed when the backward's reduction ends); ZeRO-1 also holds every trainable
                gradient whole until it reduces them after backward; and the gradient partition's
                overhang: DeepSpeed copies the whole gradient of each parameter its partition touches,
                so a parameter across a partition edge is held whole (the most over the ranks), until
                the step
    step        the float32 gradient partition (4 B per partition element) the optimizer steps on,
                built from the reduced gradients and dropped after the step

allgather_bucket_size allocates nothing (the updated partitions are gathered into the flat buffer).
Not modelled: the momentary flat copy of the gradient partition the step makes before the float32 cast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..core.plan import Decision
from ..core.records import DTYPE_BYTES
from .memory_plan import STATES_PER_ELEMENT, STEP_COUNTER_BYTES, MemoryPlan, PlanOptions, Split, Strategy, ceil_div
from .precision import grad_bytes, param_bytes, state_bytes
from .zero3_gather import DEFAULTS, Held, Limits, peak_gathered

REDUCE_BUCKET = 500_000_000  # reduce_bucket_size: the gradient bucket's elements
SUB_GROUP = 1_000_000_000  # sub_group_size: partition elements per flat optimizer group


ASSUMES = (
    "DeepSpeed ZeRO-3 at its defaults: every part in partitions padded to the world size, parameters of at most "
    "100,000 elements also whole on every rank, one step counter per flat group; engine buffers: its reduce bucket "
    "and the most parameters gathered at once (prefetch and reuse distance replayed in inventory order)"
)

ZERO12_ASSUMES = (
    "DeepSpeed ZeRO-{stage} at its defaults: the rank's gradient partition only, fp32 master and states "
    "partitioned; engine buffers: the larger of the backward's (its reduce bucket, the whole gradients of "
    "parameters across the partition's edges{whole}, until the step) and the step's fp32 gradient partition; "
    "none kept between steps"
)


def _share(total: int, part: int, whole: int) -> int:
    """`total` bytes of `whole` elements, for `part` of them (rounded up: packed weights)."""
    return ceil_div(total * part, whole) if whole else 0


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
    storage = options.storage
    held = [
        Held(
            d.param.module,
            d.param.numel,
            _share(param_bytes(d.param, options.precision, storage), ceil_div(d.param.numel, w) * w, d.param.numel),
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
    storage = options.storage
    return _share(grad_bytes(first, None, storage), REDUCE_BUCKET, first.numel)


def _overhang(trainable: list[Decision], q: int, w: int, options: PlanOptions) -> int:
    """The most gradient bytes any rank holds outside its partition [r*q, (r+1)*q): the rest of
    each parameter that starts in it or runs into it (DeepSpeed copies such gradients whole).
    Only the first and last rank a parameter touches can share it with others; the ranks in
    between lie wholly inside it, so one figure serves them all (the time does not grow with W)."""
    storage = options.storage
    edges: dict[int, int] = {}
    interior = start = 0
    for d in trainable:
        n = d.param.numel
        if n:
            size = grad_bytes(d.param, options.precision, storage)
            first, last = start // q, min(ceil_div(start + n, q), w) - 1
            for r in {first, last}:
                inside = min(start + n, (r + 1) * q) - max(start, r * q)
                edges[r] = edges.get(r, 0) + _share(size, n - inside, n)
            if last - first > 1:
                interior = max(interior, _share(size, n - q, n))
        start += n
    return max([interior, *edges.values()])


@dataclass(frozen=True)
class Zero12Phases:
    """DeepSpeed ZeRO-1/2's own buffers per rank, in bytes (module docstring): all trainable."""

    bucket: int = 0  # the reduce bucket, during backward
    overhang: int = 0  # gradients outside the partition held whole, from backward to the step
    whole_grads: int = 0  # ZeRO-1: every trainable gradient whole, between backward and its reduction
    step: int = 0  # the float32 gradient partition, during the optimizer step

    @property
    def buffers(self) -> Split:
        return Split(0, max(self.bucket + self.overhang + self.whole_grads, self.step))


def zero12_phases(
    decisions: Iterable[Decision], options: PlanOptions, without_gradient: frozenset[str] = frozenset()
) -> Zero12Phases:
    """What DeepSpeed ZeRO-1/2 allocates beyond the model states, phase by phase (module docstring)."""
    w, precision = options.world_size, options.precision
    storage = options.storage
    trainable = [d for d in decisions if d.trainable]
    if not trainable:
        return Zero12Phases()
    q = ceil_div(sum(d.param.numel for d in trainable), 2 * w) * 2  # the flat group padded to 2W, per rank
    whole = 0
    if options.strategy is Strategy.DEEPSPEED_ZERO1:  # reduced by reduce_gradients after backward
        whole = sum(grad_bytes(d.param, precision, storage) for d in trainable if d.param.name not in without_gradient)
    return Zero12Phases(_reduce_bucket(trainable, options), _overhang(trainable, q, w, options), whole, 4 * q)


def zero3_plan(
    decisions: Iterable[Decision], options: PlanOptions, activations: int | None = None, limits: Limits = DEFAULTS
) -> MemoryPlan:
    """DeepSpeed ZeRO-3's bytes per rank (module docstring); `limits`: its stage3_* settings."""
    w, precision = options.world_size, options.precision
    storage = options.storage
    k = STATES_PER_ELEMENT[options.optimizer]
    decisions = list(decisions)
    params, grads, states, partitions = Split(), 0, 0, []
    for d in decisions:
        n = d.param.numel
        q = ceil_div(n, w)
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
