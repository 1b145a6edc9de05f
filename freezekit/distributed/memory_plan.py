"""Bytes per rank of parameters, gradients and optimizer state, frozen and trainable apart. Pure.

Works from the inventory's records and the plan alone, so a 70B plan costs what a `count` costs.
The formula (README, "Distributed"), with W the world size, P_f / P_t the frozen / trainable
parameter bytes, k the optimizer's states per trainable element and T_t the trainable tensors:

    params     ddp, zero1, zero2: P_f + P_t          zero3, fsdp: (P_f + P_t) / W
    grads      ddp, zero1: P_t                       zero2, zero3, fsdp: P_t / W
    optimizer  ddp: k*P_t + s*T_t    fsdp: k*P_t / W + s*T_t    zero1-3: (k*P_t + s*T_t) / W

Frozen parameters have no gradient and no optimizer state. k = 2 (Adam, AdamW), 1 (SGD with
momentum), 0 (plain SGD); s = 4 bytes for Adam/AdamW's float32 `step` counter, kept per parameter
by torch.optim on every rank that holds the parameter (FSDP2 shards the states but not the counter).
States take the parameter dtype, as torch.optim keeps them (no float32 master copy is counted).
Divisions round up; FSDP's padding of dim 0 to a multiple of W is left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..core.plan import Decision
from ..core.records import DTYPE_BYTES
from ..errors import UsageError

STRATEGIES = ("ddp", "fsdp", "zero1", "zero2", "zero3")
OPTIMIZERS = ("adamw", "adam", "sgd", "sgd-momentum")
PARAM_DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
                "fp16": "float16", "float16": "float16"}
PARAM_DTYPE_CHOICES = ("fp32", "bf16", "fp16")
STATES_PER_ELEMENT = {"adamw": 2, "adam": 2, "sgd": 0, "sgd-momentum": 1}
STEP_COUNTER_BYTES = {"adamw": 4, "adam": 4, "sgd": 0, "sgd-momentum": 0}
PARAMS_SHARDED = frozenset({"zero3", "fsdp"})
GRADS_SHARDED = frozenset({"zero2", "zero3", "fsdp"})
STATES_SHARDED = frozenset({"fsdp"})  # and ZeRO, below
COUNTERS_SHARDED = frozenset({"zero1", "zero2", "zero3"})


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
    strategy: str
    world_size: int
    optimizer: str
    param_dtype: str | None  # None: each parameter's stored dtype
    params: Split
    grads: Split
    optimizer_state: Split

    @property
    def total(self) -> Split:
        return self.params + self.grads + self.optimizer_state

    def to_dict(self) -> dict:
        parts = {"params": self.params, "grads": self.grads, "optimizer": self.optimizer_state,
                 "total": self.total}
        return {"strategy": self.strategy, "world_size": self.world_size, "optimizer": self.optimizer,
                "param_dtype": self.param_dtype,
                "per_rank": {k: v.total for k, v in parts.items()},
                "frozen": {k: v.frozen for k, v in parts.items()},
                "trainable": {k: v.trainable for k, v in parts.items()}}


def check_plan_options(strategy: str, world_size: int, optimizer: str, param_dtype: str | None) -> str | None:
    """Validate the options; returns the canonical dtype name (or None)."""
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy {strategy}: choose one of {', '.join(STRATEGIES)}")
    if optimizer not in OPTIMIZERS:
        raise UsageError(f"--optimizer {optimizer}: choose one of {', '.join(OPTIMIZERS)}")
    if world_size < 1:
        raise UsageError(f"--world-size {world_size}: must be at least 1")
    if param_dtype is None:
        return None
    if param_dtype not in PARAM_DTYPES:
        raise UsageError(f"--param-dtype {param_dtype}: choose one of fp32, bf16, fp16")
    return PARAM_DTYPES[param_dtype]


def _ceil_div(n: int, d: int) -> int:
    return -(-n // d)


def memory_plan(decisions: Iterable[Decision], strategy: str, world_size: int, optimizer: str,
                param_dtype: str | None = None, without_gradient: frozenset[str] = frozenset()) -> MemoryPlan:
    """The plan per rank. `without_gradient` names trainable parameters that get no gradient (a
    measured run found them unused): they hold parameter bytes but no gradient or optimizer state."""
    dtype = check_plan_options(strategy, world_size, optimizer, param_dtype)
    p_frozen = p_train = g_train = counters = 0
    for d in decisions:
        size = d.param.numel * DTYPE_BYTES.get(dtype or d.param.dtype, 0)
        if not d.trainable:
            p_frozen += size
            continue
        p_train += size
        if d.param.name not in without_gradient:
            g_train += size
            counters += 1
    w = world_size
    k, s = STATES_PER_ELEMENT[optimizer], STEP_COUNTER_BYTES[optimizer]

    def shard(n: int, sharded: bool) -> int:
        return _ceil_div(n, w) if sharded else n

    params = Split(shard(p_frozen, strategy in PARAMS_SHARDED), shard(p_train, strategy in PARAMS_SHARDED))
    grads = Split(0, shard(g_train, strategy in GRADS_SHARDED))
    if strategy in COUNTERS_SHARDED:  # ZeRO partitions whole parameters' states, counters included
        states = _ceil_div(k * g_train + s * counters, w)
    else:
        states = shard(k * g_train, strategy in STATES_SHARDED) + s * counters
    return MemoryPlan(strategy, world_size, optimizer, dtype, params, grads, Split(0, states))
