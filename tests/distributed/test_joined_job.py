"""`verify --ddp env / --fsdp env`: one rank of a job torchrun (or srun) started (issue 18, item 8).

The environment is parsed without torch; one real `torchrun --nproc-per-node 2` job on 127.0.0.1
(gloo) checks that rank 0 alone prints the report, with the job's world size, and that every rank
exits with the same code.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from freezekit.distributed.job_env import JobEnv, job_env, parse_ranks
from freezekit.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(__file__).with_name("dist_models.py")
TORCHRUN = {
    "RANK": "3",
    "WORLD_SIZE": "4",
    "LOCAL_RANK": "1",
    "LOCAL_WORLD_SIZE": "2",
    "MASTER_ADDR": "node0",
    "MASTER_PORT": "29500",
}


def test_torchrun_and_srun_environments():
    assert job_env(TORCHRUN, "--ddp") == JobEnv(3, 4, 1, 2, "node0", 29500, "torchrun")
    slurm = {"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1", "MASTER_ADDR": "n0", "MASTER_PORT": "1234"}
    assert job_env(slurm, "--fsdp") == JobEnv(5, 8, 1, 2, "n0", 1234, "srun")
    assert job_env({**slurm, **TORCHRUN}, "--ddp").launcher == "torchrun"  # torchrun inside a SLURM job


@pytest.mark.parametrize(
    "change, message",
    [
        ({"RANK": None, "WORLD_SIZE": None}, "--ddp env: RANK is not set; run under torchrun or srun"),
        ({"RANK": "4"}, "--ddp env: RANK=4 is not below WORLD_SIZE=4"),
        ({"WORLD_SIZE": "0"}, "--ddp env: WORLD_SIZE='0' is not an integer of at least 1"),
        ({"LOCAL_RANK": "two"}, "--ddp env: LOCAL_RANK='two' is not an integer of at least 0"),
        ({"LOCAL_WORLD_SIZE": "8"}, "LOCAL_RANK=1 with 8 ranks on this machine and WORLD_SIZE=4 in all: inconsistent"),
        ({"MASTER_ADDR": None}, "--ddp env: MASTER_ADDR is not set"),
        ({"MASTER_PORT": "70000"}, "--ddp env: MASTER_PORT='70000' is not an integer of at least 1 and at most 65535"),
    ],
)
def test_an_inconsistent_environment_is_one_usage_error(change, message):
    env = {k: v for k, v in {**TORCHRUN, **change}.items() if v is not None}
    with pytest.raises(UsageError) as caught:
        job_env(env, "--ddp")
    assert message in str(caught.value)


def test_ranks_are_a_number_or_env():
    assert [parse_ranks(t, "--ddp") for t in ("2", "env", "ENV", None)] == [2, 0, 0, None]
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(UsageError, match=r"expected a number of ranks \(1 or more\), or 'env'"):
            parse_ranks(bad, "--ddp")


def test_cli_env_outside_a_launcher_is_one_line(cli, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = cli("verify", f"{MODELS}:build_cnn", "--input-shape", "3,8,8", "--ddp", "env")
    assert (code, out) == (2, "")
    assert err == (
        "freezekit: error: --ddp env: RANK is not set; run under torchrun or srun (docs/distributed.md), "
        "or pass --ddp N to spawn N ranks here\n"
    )


def test_two_ranks_under_torchrun_report_once_and_exit_alike(tmp_path):
    """--strict makes the unused `spare` layer fail the run: every rank must exit 10, rank 0 alone prints."""
    args = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nnodes",
        "1",
        "--nproc-per-node",
        "2",
        "-m",
        "freezekit",
        "verify",
        f"{MODELS}:build_unused",
        "-p",
        "stem",
        "--input-shape",
        "6",
        "--fsdp",
        "env",
        "--steps",
        "1",
        "--strict",
        "--format",
        "json",
        "--timeout",
        "60",
    ]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=150)
    doc = json.loads(done.stdout)  # one document: the other rank printed nothing on stdout
    assert (doc["engine"], doc["world_size"], doc["backend"], doc["ok"]) == ("fsdp", 2, "gloo", False)
    assert [c["name"] for c in doc["checks"] if not c["ok"]] == ["trainable parameters received a gradient"]
    assert len(doc["measured"]) == 2
    assert sorted(re.findall(r"rank\s+: (\d) \(local_rank: \d\)\s+exitcode\s+: (\d+)", done.stderr)) == [
        ("0", "10"),
        ("1", "10"),
    ]
    errors = [line for line in done.stderr.splitlines() if line.startswith("freezekit: error: ")]
    assert len(errors) == 2 and errors[0] == errors[1]
    assert errors[0].startswith("freezekit: error: trainable parameters received a gradient: 2 trainable tensors")


def _one_rank_cannot_plan(rank: int, world_size: int, payload: None) -> str:
    from freezekit.distributed.join import agree
    from freezekit.errors import ModelError

    def attempt() -> str:
        if rank == 1:
            raise ModelError("my_models.py: no such file on this node")
        return "planned"

    return agree(rank, world_size, attempt)


def test_a_rank_that_cannot_plan_stops_every_rank_alike():
    from freezekit.distributed.launch import launch

    outcomes = launch(_one_rank_cannot_plan, None, 2, timeout_s=60)
    assert [(o.ok, o.exit_code) for o in outcomes] == [(False, 4), (False, 4)]
    assert outcomes[0].error == "rank 1 of 2: my_models.py: no such file on this node"
    assert outcomes[1].error == "my_models.py: no such file on this node"
