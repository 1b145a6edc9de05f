"""Bytes per rank of parameters, gradients and optimizer state, frozen and trainable apart. Pure.

Works from the inventory's records and the plan alone, so a 70B plan costs what a `count` costs.
The formula (docs/distributed.md), with W the world size, P_f / P_t the frozen / trainable
parameter bytes, k the optimizer's states per trainable element and T_t the trainable tensors:

    params     ddp, zero1, zero2: P_f + P_t          zero3, fsdp: (P_f + P_t) / W
    grads      ddp, zero1: P_t                       zero2, zero3, fsdp: P_t / W
    optimizer  ddp: k*P_t + s*T_t    fsdp: k*P_t / W + s*T_t    zero1-3: (k*P_t + s*T_t) / W

deepspeed-zero1 and deepspeed-zero2 are DeepSpeed's engine as it allocates: both keep only the
rank's gradient partition (so both count as zero2); plan_of.py adds their engine buffers (the reduce
bucket, gradients held whole, the step's fp32 gradient partition: deepspeed_plan.zero12_phases).
deepspeed-zero3 has its own module (deepspeed_plan.py, through plan_of.py): padded
partitions, small parameters kept whole on every rank, and `buffers` for its reduce bucket and the
parameters it gathers.
torch-ddp and torch-fsdp2 are PyTorch's engines as they allocate (distributed/engine_torch.py):
DDP's gradient buckets, FSDP2's dim-0 padding per tensor and its unsharded units (`buffers`).

Frozen parameters have no gradient and no optimizer state. k = 2 (Adam, AdamW), 1 (SGD with
momentum), 0 (plain SGD); s = 4 bytes for Adam/AdamW's float32 `step` counter, kept per parameter
by torch.optim on every rank that holds the parameter (FSDP2 shards the states but not the counter).
The bytes per element of each part follow `--precision` and `--param-dtype` (distributed/precision.py):
as stored by default, states in the parameter dtype as torch.optim keeps them; under `*-mixed` the
ZeRO paper's accounting (2 bytes per parameter, 2 per gradient, K = 4 + 4k per trainable element
for the float32 master copy and states, no step counters), so ZeRO-2 per rank is
2N + (2 + K) P_t / W and ZeRO-3 (2N + (2 + K) P_t) / W. Quantized weights count their real bytes.
`activations` (when forecast, adapter/activations.py) are per rank, never sharded.
Divisions round up; the plain `fsdp` formula leaves FSDP's padding of dim 0 to a multiple of W out
(`torch-fsdp2` counts it per tensor and reports it as `padding`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..core.choice import Choice
from ..core.dtypes import Dtype
from ..core.plan import Decision
from ..errors import UsageError
from .precision import Precision, grad_bytes, param_bytes, state_bytes


class Strategy(Choice):
    DDP = "ddp"
    FSDP = "fsdp"
    ZERO1 = "zero1"
    ZERO2 = "zero2"
    ZERO3 = "zero3"
    DEEPSPEED_ZERO1 = "deepspeed-zero1"
    DEEPSPEED_ZERO2 = "deepspeed-zero2"
    DEEPSPEED_ZERO3 = "deepspeed-zero3"
    TORCH_DDP = "torch-ddp"
    TORCH_FSDP2 = "torch-fsdp2"


class OptimizerKind(Choice):
    ADAMW = "adamw"
    ADAM = "adam"
    SGD = "sgd"
    SGD_MOMENTUM = "sgd-momentum"


ParamDtype = Dtype  # the one dtype choice (core/dtypes.py), under the name this module used

STRATEGIES = Strategy.values()
OPTIMIZERS = OptimizerKind.values()
STATES_PER_ELEMENT = {
    OptimizerKind.ADAMW: 2,
    OptimizerKind.ADAM: 2,
    OptimizerKind.SGD: 0,
    OptimizerKind.SGD_MOMENTUM: 1,
}
STEP_COUNTER_BYTES = {
    OptimizerKind.ADAMW: 4,
    OptimizerKind.ADAM: 4,
    OptimizerKind.SGD: 0,
    OptimizerKind.SGD_MOMENTUM: 0,
}
# DeepSpeed's ZeRO-1 and ZeRO-2 both keep only the rank's partition of the reduced gradients
# (measured on DeepSpeed 0.19.8, benchmarks/deepspeed_plan.py), so deepspeed-zero1 shards them too.
DEEPSPEED = frozenset({Strategy.DEEPSPEED_ZERO1, Strategy.DEEPSPEED_ZERO2})
PARAMS_SHARDED = frozenset({Strategy.ZERO3, Strategy.FSDP})
GRADS_SHARDED = frozenset({Strategy.ZERO2, Strategy.ZERO3, Strategy.FSDP, *DEEPSPEED})
COUNTERS_SHARDED = frozenset({Strategy.ZERO1, Strategy.ZERO2, Strategy.ZERO3, *DEEPSPEED})  # states, counters


@dataclass(frozen=True)
class Split:
    """Bytes, frozen and trainable apart."""

    frozen: int = 0
    trainable: int = 0

    @property
    def total(self) -> int:
        return self.frozen + self.trainable

    def __add__(self, other: "Split") -> "Split":
        return Split(self.frozen + other.frozen, self.trainable + other.trainable)


@dataclass(frozen=True)
class MemoryPlan:
    strategy: Strategy
    world_size: int
    optimizer: OptimizerKind
    param_dtype: ParamDtype | None  # None: each parameter's stored dtype
    params: Split
    grads: Split
    optimizer_state: Split
    precision: Precision | None = None  # None: as stored
    activations: int | None = None  # bytes saved for backward per rank, when forecast
    buffers: Split | None = None  # an engine preset's own buffers per rank (None: a plain formula)
    padding: int | None = None  # torch-fsdp2: bytes per rank its dim-0 padding adds (in params/grads/optimizer)

    @property
    def model_states(self) -> Split:
        return self.params + self.grads + self.optimizer_state

    @property
    def total(self) -> Split:
        """Model states, the engine's buffers, and the activations (counted as trainable: only
        trainable paths save them)."""
        return self.model_states + (self.buffers or Split()) + Split(0, self.activations or 0)

    def to_dict(self) -> dict:
        parts = {"params": self.params, "grads": self.grads, "optimizer": self.optimizer_state}
        if self.buffers is not None:
            parts["buffers"] = self.buffers
        if self.activations is not None:
            parts["activations"] = Split(0, self.activations)
        parts["total"] = self.total
        padding = {"padding": self.padding} if self.padding is not None else {}
        return {
            "strategy": self.strategy.value,
            "world_size": self.world_size,
            "optimizer": self.optimizer.value,
            "param_dtype": self.param_dtype.dtype if self.param_dtype else None,
            "precision": self.precision.value if self.precision else None,
            "per_rank": {k: v.total for k, v in parts.items()},
            "frozen": {k: v.frozen for k, v in parts.items()},
            "trainable": {k: v.trainable for k, v in parts.items()},
            **padding,
        }


@dataclass(frozen=True)
class PlanOptions:
    """`count --memory-plan`: the ranks, the strategy and the optimizer to plan for."""

    strategy: Strategy = Strategy.DDP
    world_size: int = 1
    optimizer: OptimizerKind = OptimizerKind.ADAMW
    param_dtype: ParamDtype | None = None
    precision: Precision | None = None
    bucket_view: bool = False  # torch-ddp: gradient_as_bucket_view=True (no separate bucket copy)

    @property
    def storage(self) -> str | None:
        """--param-dtype as a dtype name (None: the precision's, else as stored)."""
        return self.param_dtype.dtype if self.param_dtype else None


def plan_options(
    strategy: object = None,
    world_size: int | None = None,
    optimizer: object = None,
    param_dtype: object = None,
    precision: object = None,
    bucket_view: bool = False,
) -> PlanOptions:
    """Options from the command line or Python (strings or members), or a UsageError naming the flag."""
    if world_size is not None and world_size < 1:
        raise UsageError(f"--world-size {world_size}: must be at least 1")
    chosen = Strategy.parse(strategy or Strategy.DDP, UsageError, "--strategy")
    if bucket_view and chosen is not Strategy.TORCH_DDP:
        raise UsageError(f"--ddp-bucket-view goes with --strategy torch-ddp, not {chosen}")
    return PlanOptions(
        chosen,
        world_size or 1,
        OptimizerKind.parse(optimizer or OptimizerKind.ADAMW, UsageError, "--optimizer"),
        ParamDtype.parse(param_dtype, UsageError, "--param-dtype") if param_dtype else None,
        Precision.parse(precision, UsageError, "--precision") if precision else None,
        bucket_view,
    )


def ceil_div(n: int, d: int) -> int:
    """n / d rounded up: a shard, a partition, a chunk."""
    return -(-n // d)


def memory_plan(
    decisions: Iterable[Decision],
    options: PlanOptions,
    without_gradient: frozenset[str] = frozenset(),
    activations: int | None = None,
) -> MemoryPlan:
    """The plan per rank. `without_gradient` names trainable parameters that get no gradient (a
    measured run found them unused): they hold parameter bytes but no gradient or optimizer state.
    The engine presets are planned by their own modules (plan_of.py picks): PyTorch's by engine_torch.py,
    deepspeed-zero3 by deepspeed_plan.py."""
    if options.strategy in (Strategy.TORCH_DDP, Strategy.TORCH_FSDP2, Strategy.DEEPSPEED_ZERO3):
        raise ValueError(f"{options.strategy} is planned by its engine's module: call plan_of.plan_of")
    strategy, w, optimizer, precision = options.strategy, options.world_size, options.optimizer, options.precision
    storage = options.storage
    k = STATES_PER_ELEMENT[optimizer]
    p_frozen = p_train = g_train = s_train = counters = 0
    for d in decisions:
        size = param_bytes(d.param, precision, storage)
        if not d.trainable:
            p_frozen += size
            continue
        p_train += size
        if d.param.name not in without_gradient:
            g_train += grad_bytes(d.param, precision, storage)
            s_train += state_bytes(d.param, k, precision, storage)
            counters += 1
    s = 0 if precision is not None and precision.mixed else STEP_COUNTER_BYTES[optimizer]

    def shard(n: int, sharded: bool) -> int:
        return ceil_div(n, w) if sharded else n

    params = Split(shard(p_frozen, strategy in PARAMS_SHARDED), shard(p_train, strategy in PARAMS_SHARDED))
    grads = Split(0, shard(g_train, strategy in GRADS_SHARDED))
    if strategy in COUNTERS_SHARDED:  # ZeRO partitions whole parameters' states, counters included
        states = ceil_div(s_train + s * counters, w)
    else:  # DDP replicates; FSDP2 shards the states, every rank keeps each parameter's step counter
        states = shard(s_train, strategy is Strategy.FSDP) + s * counters
    return MemoryPlan(
        strategy, w, optimizer, options.param_dtype, params, grads, Split(0, states), precision, activations
    )
