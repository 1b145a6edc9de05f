"""`verify --ddp N|env / --fsdp N|env`: the command line's values, checked, as one DistOptions. Pure: no torch."""

from __future__ import annotations

import os

from ..errors import UsageError
from ..verify.options import VerifyOptions
from .job_env import job_env, parse_ranks
from .memory_plan import OptimizerKind
from .results import DistOptions, Engine

MAX_CPU_RANKS = 64  # each CPU rank is a forked process holding a whole model: more only exhausts the machine


def parse_types(text: str, option: str = "--shard-by") -> tuple[str, ...]:
    types = tuple(t.strip() for t in text.split(","))
    if not types or any(not t.isidentifier() for t in types):
        raise UsageError(
            f"{option} {text}: expected module class names separated by commas, "
            "like TransformerEncoderLayer,LlamaDecoderLayer"
        )
    return types


def dist_options(
    vopts: VerifyOptions,
    ddp_text: str | None,
    fsdp_text: str | None,
    shard_by: str | None,
    optimizer: OptimizerKind | str | None,
    timeout_s: float,
) -> DistOptions:
    """A UsageError naming the flag for every combination that does not make sense. `--ddp env`
    reads the job from the environment its launcher set (job_env.py)."""
    ddp, fsdp = parse_ranks(ddp_text, "--ddp"), parse_ranks(fsdp_text, "--fsdp")
    if ddp is not None and fsdp is not None:
        raise UsageError("--ddp and --fsdp exclude each other: pick one engine")
    if ddp is None and fsdp is None:
        raise UsageError("--shard-by and --optimizer go with --ddp N or --fsdp N")
    if shard_by is not None and fsdp is None:
        raise UsageError("--shard-by goes with --fsdp N")
    if vopts.compare:
        raise UsageError("--compare is a single-process option; leave it out with --ddp/--fsdp")
    if vopts.device.startswith("cuda:"):
        raise UsageError("--ddp/--fsdp place rank N on cuda:N; pass --device cuda")
    flag = "--ddp" if ddp is not None else "--fsdp"
    count = ddp if ddp is not None else fsdp
    joined = job_env(os.environ, flag) if count == 0 else None  # 0: 'env'
    ranks = joined.world_size if joined is not None else count or 1
    if joined is None and vopts.device == "cpu" and ranks > MAX_CPU_RANKS:  # on CUDA, run.py asks for one GPU per rank
        raise UsageError(
            f"{flag} {ranks}: at most {MAX_CPU_RANKS} ranks on CPU (each rank is a process with its own model)"
        )
    kind = OptimizerKind.parse(optimizer or OptimizerKind.ADAMW, UsageError, "--optimizer")
    return DistOptions(
        Engine.DDP if ddp is not None else Engine.FSDP,
        ranks,
        vopts.device,
        parse_types(shard_by) if shard_by is not None else None,
        kind,
        vopts.steps,
        vopts.batch_size,
        vopts.input_shape,
        timeout_s,
        joined,
        vopts.dtype,
    )
