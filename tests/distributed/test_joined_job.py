"""`verify --ddp env / --fsdp env`: one rank of a job torchrun (or srun) started (issue 18, item 8).

The environment is parsed without torch; a real two-node job, two torchrun agents on 127.0.0.1 with
a c10d rendezvous (gloo), checks that rank 0 alone prints the report, with the job's world size, and
that every rank exits with the same code.
"""

from __future__ import annotations

import json
import os
import re
import socket
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
    assert job_env({**slurm, "WORLD_SIZE": "8"}, "--ddp").world_size == 8  # exported, and agreeing
    torchrun_says_too = {**TORCHRUN, "GROUP_RANK": "1", "GROUP_WORLD_SIZE": "2", "ROLE_WORLD_SIZE": "4"}
    assert job_env(torchrun_says_too, "--ddp") == JobEnv(3, 4, 1, 2, "node0", 29500, "torchrun")


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
        ({"ROLE_WORLD_SIZE": "8"}, "--ddp env: WORLD_SIZE=4 but torchrun's ROLE_WORLD_SIZE='8': inconsistent"),
        (
            {"GROUP_WORLD_SIZE": "4"},
            "--ddp env: WORLD_SIZE=4 cannot hold GROUP_WORLD_SIZE=4 nodes with LOCAL_WORLD_SIZE=2 ranks on this one",
        ),
        ({"GROUP_WORLD_SIZE": "0"}, "--ddp env: GROUP_WORLD_SIZE='0' is not an integer of at least 1"),
        (
            {"RANK": None, "LOCAL_RANK": None, "SLURM_PROCID": "3", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1"},
            "--ddp env: WORLD_SIZE='4' is exported but srun started SLURM_NTASKS=8 tasks: inconsistent",
        ),
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _agent(port: int, hosts_store: bool, out: Path) -> subprocess.Popen:
    """One torchrun agent: one node of a two-node job, one rank, c10d rendezvous on 127.0.0.1."""
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1"]
    rendezvous = ["--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "joined"]
    rendezvous += ["--rdzv-conf", f"is_host={int(hosts_store)},join_timeout=60", "--local-addr", "127.0.0.1"]
    verify = ["-m", "freezekit", "verify", f"{MODELS}:build_unused", "-p", "stem", "--input-shape", "6"]
    verify += ["--fsdp", "env", "--steps", "1", "--strict", "--format", "json", "--timeout", "60"]
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    with open(out.with_suffix(".out"), "w") as stdout, open(out.with_suffix(".err"), "w") as stderr:
        return subprocess.Popen(torchrun + rendezvous + verify, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)


def test_two_nodes_under_torchrun_report_once_and_exit_alike(tmp_path):
    """Two torchrun agents on 127.0.0.1 acting as two nodes (gloo), one rank each. --strict makes the
    unused `spare` layer fail the run: every rank must exit 10, rank 0 alone prints."""
    port = _free_port()
    agents = [_agent(port, True, tmp_path / "node0")]
    try:
        agents.append(_agent(port, False, tmp_path / "node1"))
        codes = [agent.wait(timeout=150) for agent in agents]
    finally:
        for agent in agents:  # reaped even when a timeout fails the test: SIGTERM first, so that
            if agent.poll() is None:  # torchrun stops its worker (in a session of its own) before exiting
                agent.terminate()
                try:
                    agent.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    agent.kill()  # the worker still ends itself: --timeout 60
                    agent.wait()
    outs = [(tmp_path / f"node{i}.out").read_text() for i in range(2)]
    errs = [(tmp_path / f"node{i}.err").read_text() for i in range(2)]
    assert codes == [1, 1], errs  # torchrun's own code when its worker failed
    assert sorted(out == "" for out in outs) == [False, True]  # one node's rank printed, the other nothing
    doc = json.loads("".join(outs))  # one document
    assert (doc["engine"], doc["world_size"], doc["backend"], doc["ok"]) == ("fsdp", 2, "gloo", False)
    assert [c["name"] for c in doc["checks"] if not c["ok"]] == ["trainable parameters received a gradient"]
    assert len(doc["measured"]) == 2
    exits = [re.findall(r"rank\s+: (\d) \(local_rank: 0\)\s+exitcode\s+: (\d+)", err) for err in errs]
    assert sorted(sum(exits, [])) == [("0", "10"), ("1", "10")]
    errors = [line for err in errs for line in err.splitlines() if line.startswith("freezekit: error: ")]
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
