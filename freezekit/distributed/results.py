"""What a distributed run is asked to do and what it found, as plain data (no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.choice import Choice
from ..pipeline.settings import Settings
from ..verify.result import Check
from .job_env import JobEnv
from .memory_plan import MemoryPlan, OptimizerKind, Split, Strategy


class Engine(Choice):
    DDP = "ddp"
    FSDP = "fsdp"


ENGINE_NAMES = {Engine.DDP: "DDP", Engine.FSDP: "FSDP2"}
# the plan each engine is checked against: the engine presets (distributed/engine_torch.py)
STRATEGY_OF = {Engine.DDP: Strategy.TORCH_DDP, Engine.FSDP: Strategy.TORCH_FSDP2}
AGREEMENT = 0.01  # measured vs planned bytes, per part, on the rank holding the most


@dataclass(frozen=True)
class DistOptions:
    engine: Engine
    world_size: int
    device: str = "cpu"  # cpu (gloo) or cuda (nccl, one GPU per rank)
    shard_by: tuple[str, ...] | None = None  # FSDP unit types; None: the repeated blocks
    optimizer: OptimizerKind = OptimizerKind.ADAMW
    steps: int = 2
    batch_size: int | None = None
    input_shape: tuple[int, ...] | None = None
    timeout_s: float = 300.0
    joined: JobEnv | None = None  # --ddp env: this process is one rank of the launcher's job
    dtype: str = "float32"  # bfloat16: DDP under autocast, FSDP2 with MixedPrecisionPolicy (fp32 storage)


@dataclass(frozen=True)
class Job:
    """What every rank receives: enough to rebuild, freeze and wrap the same model."""

    settings: Settings
    dist: DistOptions
    family: str
    shard_by: tuple[str, ...]
    batch_size: int
    param_names: tuple[str, ...] = ()  # the plan's parameters (a rank reports those it does not have)


@dataclass(frozen=True)
class RankReport:
    rank: int
    params: Split  # local bytes after the last step (FSDP: this rank's shards)
    grads: Split
    optimizer_state: Split
    steps_done: int
    no_grad: tuple[str, ...] = ()  # trainable parameters without a gradient after the first backward
    frozen_with_grad: tuple[str, ...] = ()
    frozen_changed: tuple[str, ...] = ()  # frozen parameters whose values moved on this rank
    frozen_digest: dict[str, str] = field(default_factory=dict)  # name -> digest of the full tensor
    trainable_digest: dict[str, str] = field(default_factory=dict)
    engine_error: str = ""  # what the engine raised, first line
    wrapped: tuple[str, ...] = ()  # FSDP: the modules given their own unit, the root ("") last
    missing: tuple[str, ...] = ()  # the plan's parameters this model no longer has (made buffers)
    output_dtype: str = ""  # the dtype of the model's output in the first step (the compute dtype)
    buckets: int | None = None  # DDP: the bytes of its gradient buckets, as DDP reports them


@dataclass(frozen=True)
class DistResult:
    model: str
    engine: Engine
    world_size: int
    backend: str
    device: str
    optimizer: OptimizerKind
    steps: int
    input_desc: str
    checks: tuple[Check, ...]
    plan: MemoryPlan  # from the inventory alone
    expected: MemoryPlan  # the same, given the parameters the run found without a gradient
    ranks: tuple[RankReport, ...]
    shard_by: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    freeze_hint: str = ""  # -p arguments freezing the trainable parameters that got no gradient
    dtype: str = "float32"  # the compute dtype (--dtype)

    def failures(self, warnings_fail: bool) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok and (c.severity == "error" or warnings_fail))
