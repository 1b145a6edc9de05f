"""`verify --ddp env` / `--fsdp env`: this process is one rank of a job that torchrun (any --nnodes,
c10d rendezvous) or SLURM's srun started. It joins the launcher's process group (env://: the store
is the launcher's, and so is securing it), runs the same rank as a spawned one (worker.py), and
gathers every rank's report on rank 0, which assesses them (run.assess) and prints the report.
Rank 0's verdict (exit code and message) is broadcast, so every rank exits alike; the other ranks
print nothing on stdout.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, TypeVar

from ..errors import FreezekitError, UsageError, VerifyError
from ..pipeline.settings import Settings
from ..pipeline.stdout_guard import stdout_to_stderr
from .launch import RankOutcome, outcome_of
from .lifetime import end_after
from .results import DistOptions, DistResult
from .run import Prepared, assess, error_for, failure_message, prepare


@dataclass(frozen=True)
class Joined:
    result: DistResult | None  # rank 0 only
    error: FreezekitError | None  # the same on every rank


def verify_joined(settings: Settings, opts: DistOptions, warnings_fail: bool) -> Joined:
    import torch.distributed as dist

    env = opts.joined
    assert env is not None  # dist_options set it for --ddp env
    backend = "nccl" if opts.device.startswith("cuda") else "gloo"
    if backend == "nccl":
        import torch

        if torch.cuda.device_count() <= env.local_rank:
            raise UsageError(
                f"--device cuda: this rank's GPU is cuda:{env.local_rank} (LOCAL_RANK); "
                f"{torch.cuda.device_count()} found on this machine"
            )
        torch.cuda.set_device(env.local_rank)
    os.environ.update(MASTER_ADDR=env.master_addr, MASTER_PORT=str(env.master_port))
    end_after(opts.timeout_s)  # --timeout binds this rank too, hung collective or not
    try:
        dist.init_process_group(
            backend,
            init_method="env://",
            rank=env.rank,
            world_size=env.world_size,
            timeout=timedelta(seconds=opts.timeout_s),
        )
        try:
            # every rank plans; one that cannot (a file missing on its node) stops them all, alike
            prepared = agree(env.rank, env.world_size, lambda: prepare(settings, opts, env.local_world_size))
            return _run(opts, prepared, env.rank, warnings_fail)
        finally:
            dist.destroy_process_group()
    except RuntimeError as exc:  # the group itself failed: a peer died, the store is unreachable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise VerifyError(f"rank {env.rank} of {env.world_size}: the launcher's process group failed: {first}") from exc
    finally:
        signal.alarm(0)


T = TypeVar("T")


def agree(rank: int, world_size: int, attempt: Callable[[], T]) -> T:
    """`attempt()` on every rank; if it raised a FreezekitError on any, every rank raises the error of
    the lowest such rank (its exit code, its message), so that every rank exits alike."""
    import torch.distributed as dist

    value: T | None = None
    status: tuple[int, str] = (0, "")
    try:
        value = attempt()
    except FreezekitError as exc:
        status = (int(exc.exit_code), str(exc))
    statuses: list[Any] = [None] * world_size
    dist.all_gather_object(statuses, status)
    failed = [(r, s) for r, s in enumerate(statuses) if s[0]]
    if failed:
        first, (code, message) = failed[0]
        own = status == (code, message)  # this rank failed the same way: its own words
        raise error_for(code, message if own else f"rank {first} of {world_size}: {message}")
    return value  # type: ignore[return-value]  # set: no rank failed


def _run(opts: DistOptions, prepared: Prepared, rank: int, warnings_fail: bool) -> Joined:
    import torch.distributed as dist

    from .worker import run_rank

    try:
        with stdout_to_stderr():  # what the model prints stays off stdout, on every rank
            outcome = RankOutcome(rank, True, run_rank(rank, opts.world_size, prepared.job))
    except Exception as exc:  # reported to rank 0 like a spawned rank's error; KeyboardInterrupt ends the run
        outcome = outcome_of(rank, exc)
    gathered: list[Any] | None = [None] * opts.world_size if rank == 0 else None
    dist.gather_object(outcome, gathered, dst=0)
    result, verdict = None, [(0, "")]
    if rank == 0:
        assert gathered is not None
        result, verdict[0] = _verdict(opts, prepared, gathered, warnings_fail)
    dist.broadcast_object_list(verdict, src=0)
    code, message = verdict[0]
    return Joined(result, error_for(code, message) if code else None)


def _verdict(
    opts: DistOptions, prepared: Prepared, outcomes: list[RankOutcome], warnings_fail: bool
) -> tuple[DistResult | None, tuple[int, str]]:
    try:
        result = assess(opts, prepared, outcomes)
    except FreezekitError as exc:
        return None, (int(exc.exit_code), str(exc))
    message = failure_message(result, warnings_fail)
    return result, ((int(VerifyError.exit_code), message) if message else (0, ""))
