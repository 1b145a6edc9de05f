"""`--ddp env` / `--fsdp env`: this process is one rank of a job an external launcher started, read
from the environment the launcher set. Pure: no torch.

torchrun (any --nnodes) sets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and
MASTER_PORT, and GROUP_WORLD_SIZE (its agents: nodes) and ROLE_WORLD_SIZE (= WORLD_SIZE, one role);
SLURM's srun sets SLURM_PROCID, SLURM_NTASKS and SLURM_LOCALID (the batch script exports MASTER_ADDR
and MASTER_PORT). The torchrun names win when both are there (torchrun inside a SLURM job). A
WORLD_SIZE that another launcher's variables contradict is refused rather than guessed between.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..errors import UsageError, quoted

TORCHRUN = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
SLURM = ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID")


@dataclass(frozen=True)
class JobEnv:
    rank: int
    world_size: int
    local_rank: int  # this rank's GPU on its machine (cuda:LOCAL_RANK)
    local_world_size: int  # ranks on this machine
    master_addr: str
    master_port: int
    launcher: str  # "torchrun" or "srun": which names were read


def parse_ranks(text: str | None, flag: str) -> int | None:
    """`--ddp N|env`: N ranks to spawn, 0 for 'env' (join the launcher's job), None when not given."""
    if text is None:
        return None
    if text.strip().lower() == "env":
        return 0
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(
            f"{flag} {quoted(text)}: expected a number of ranks (1 or more), or 'env' to join the job "
            "torchrun or srun started"
        )
    return value


def _int(env: Mapping[str, str], name: str, flag: str, low: int = 0, high: int | None = None) -> int:
    text = env.get(name)
    if text is None:
        raise UsageError(
            f"{flag} env: {name} is not set; run under torchrun or srun (docs/distributed.md), "
            f"or pass {flag} N to spawn N ranks here"
        )
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low or (high is not None and value > high):
        bound = f" and at most {high}" if high is not None else ""
        raise UsageError(f"{flag} env: {name}={quoted(text)} is not an integer of at least {low}{bound}")
    return value


def job_env(env: Mapping[str, str], flag: str) -> JobEnv:
    """The job as the launcher described it; one UsageError naming the variable otherwise."""
    launcher, names = ("torchrun", TORCHRUN) if "RANK" in env else ("srun", SLURM)
    if launcher == "srun" and "SLURM_PROCID" not in env:
        launcher, names = "torchrun", TORCHRUN  # neither: name torchrun's variable in the error
    rank = _int(env, names[0], flag)
    world_size = _int(env, names[1], flag, low=1)
    local_rank = _int(env, names[2], flag)
    if rank >= world_size:
        raise UsageError(f"{flag} env: {names[0]}={rank} is not below {names[1]}={world_size}")
    local_world_size = _int(env, "LOCAL_WORLD_SIZE", flag, low=1) if "LOCAL_WORLD_SIZE" in env else local_rank + 1
    if local_rank >= local_world_size or local_world_size > world_size:
        raise UsageError(
            f"{flag} env: {names[2]}={local_rank} with {local_world_size} ranks on this machine and "
            f"{names[1]}={world_size} in all: inconsistent"
        )
    addr = env.get("MASTER_ADDR", "").strip()
    if not addr:
        raise UsageError(f"{flag} env: MASTER_ADDR is not set (the host of rank 0's store; srun: export it)")
    port = _int(env, "MASTER_PORT", flag, low=1, high=65535)
    _check_launcher(env, flag, launcher, world_size, local_world_size)
    return JobEnv(rank, world_size, local_rank, local_world_size, addr, port, launcher)


def _check_launcher(env: Mapping[str, str], flag: str, launcher: str, world_size: int, local_world_size: int) -> None:
    """The launcher's other words for the job's size must agree with the one read."""
    if launcher == "srun":
        if "WORLD_SIZE" in env and env["WORLD_SIZE"].strip() != str(world_size):
            raise UsageError(
                f"{flag} env: WORLD_SIZE={quoted(env['WORLD_SIZE'])} is exported but srun started "
                f"SLURM_NTASKS={world_size} tasks: inconsistent (unset WORLD_SIZE, or launch with torchrun)"
            )
        return
    if "ROLE_WORLD_SIZE" in env and env["ROLE_WORLD_SIZE"].strip() != str(world_size):
        raise UsageError(
            f"{flag} env: WORLD_SIZE={world_size} but torchrun's ROLE_WORLD_SIZE="
            f"{quoted(env['ROLE_WORLD_SIZE'])}: inconsistent (WORLD_SIZE overridden after torchrun set it?)"
        )
    if "GROUP_WORLD_SIZE" in env:
        nodes = _int(env, "GROUP_WORLD_SIZE", flag, low=1)
        if local_world_size + nodes - 1 > world_size:  # every other node runs one rank at least
            raise UsageError(
                f"{flag} env: WORLD_SIZE={world_size} cannot hold GROUP_WORLD_SIZE={nodes} nodes with "
                f"LOCAL_WORLD_SIZE={local_world_size} ranks on this one: inconsistent"
            )
