"""Real process groups: 2 ranks, gloo on 127.0.0.1, a free port per launch, a timeout on every join.

The ranks fork from one fork server per test session (it imports torch once), so each run after
the first costs about a second.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from freezekit.core.batchnorm_policy import BatchNormPolicy
from freezekit.core.rules import Rule
from freezekit.distributed import launch as launch_mod
from freezekit.distributed.launch import launch
from freezekit.distributed.memory_plan import OptimizerKind
from freezekit.distributed.results import DistOptions, Engine
from freezekit.distributed.run import failure_message, largest_split, verify_distributed
from freezekit.pipeline.settings import Settings
from freezekit.sources.registry import parse_source

MODELS = Path(__file__).with_name("dist_models.py")
CASES = {  # factory, frozen patterns, one input
    "cnn": ("build_cnn", ("block1",), (3, 8, 8)),
    "lm": ("build_lm", ("embed", "layers.0", "layers.1"), (8,)),
    "unused": ("build_unused", ("stem",), (6,)),
}


def _options(case: str, batchnorm: BatchNormPolicy | None = None) -> Settings:
    factory, frozen, _ = CASES[case]
    return Settings(
        parse_source(f"{MODELS}:{factory}"), tuple(Rule("freeze", p, "-p") for p in frozen), batchnorm=batchnorm
    )


def _run(case: str, engine: str, **kw):
    opts = DistOptions(Engine(engine), 2, input_shape=CASES[case][2], steps=2, batch_size=2, timeout_s=90, **kw)
    return verify_distributed(_options(case), opts)


def _assert_plan_agrees(result) -> None:
    for part, planned in (
        ("params", result.expected.params),
        ("grads", result.expected.grads),
        ("optimizer_state", result.expected.optimizer_state),
    ):
        largest = largest_split(result.ranks, part)
        assert largest == planned, (part, largest, planned)  # exact: the engine presets model the padding
        for r in result.ranks:  # FSDP2 allocates padded params and grads alike on every rank; rank 0 the most states
            got = getattr(r, part)
            assert got == planned or (result.engine is Engine.FSDP and part == "optimizer_state"), (part, r.rank, got)


@pytest.mark.parametrize("engine", ["ddp", "fsdp"])
@pytest.mark.parametrize("case", ["cnn", "lm"])
def test_plan_matches_the_engine(case, engine):
    result = _run(case, engine)
    assert [c.name for c in result.checks if not c.ok] == []
    assert all(r.steps_done == 2 for r in result.ranks)
    _assert_plan_agrees(result)
    assert result.expected == result.plan  # every trainable parameter got a gradient
    frozen = {"cnn": 4, "lm": 25}[case]
    assert all(len(r.frozen_digest) == frozen for r in result.ranks)
    if engine == "ddp":  # replicated: every rank holds exactly the plan
        assert all(r.params + r.grads + r.optimizer_state == result.plan.model_states for r in result.ranks)
        buckets = {"cnn": (8 * 16 * 9 + 16 + 2 * 16 + 16 * 10 + 10) * 4, "lm": (2 * 2_224 + 16 * 32 + 32) * 4}[case]
        assert result.plan.buffers.trainable == buckets  # a float32 copy of every trainable gradient
        assert [r.buckets for r in result.ranks] == [buckets] * 2  # as DDP's logging data reports them
    if case == "lm" and engine == "fsdp":
        assert result.shard_by == ("TransformerEncoderLayer",)  # the repeated blocks, found by the heuristic
        assert result.ranks[0].wrapped == ("layers.0", "layers.1", "layers.2", "layers.3", "")
        assert (
            result.plan.params.frozen == (32 * 16 + 2 * 2_224) * 4 // 2
        )  # embedding + two 2,224-element blocks, halved


def test_unused_trainable_parameter_under_ddp_is_the_exit_10_diagnosis():
    result = _run("unused", "ddp")
    failed = {c.name: c for c in result.checks if not c.ok}
    assert "DDP accepted the frozen model (find_unused_parameters=False)" in failed
    assert failed["trainable parameters received a gradient"].offenders == ("spare.bias", "spare.weight")
    assert "trainable parameters identical across ranks after the steps" in failed  # one bucket: never reduced
    assert all(r.steps_done == 1 for r in result.ranks)  # the second forward raised
    message = failure_message(result, warnings_fail=False)
    assert message.startswith(
        "DDP (find_unused_parameters=False) fails on this freeze: 2 trainable tensors get no "
        "gradient (spare.bias, spare.weight)"
    )
    assert "freeze them (-p 'spare') or pass find_unused_parameters=True" in message
    assert result.expected.grads.trainable == result.plan.grads.trainable - 39 * 4
    _assert_plan_agrees(result)


def test_unused_trainable_parameter_under_fsdp_is_a_warning():
    result = _run("unused", "fsdp", optimizer=OptimizerKind.SGD_MOMENTUM)
    (failed,) = [c for c in result.checks if not c.ok]
    assert failed.severity == "warning" and failed.offenders == ("spare.bias", "spare.weight")
    assert failure_message(result, warnings_fail=False) is None
    assert result.expected.optimizer_state.trainable == (988 - 39 * 4) // 2  # one momentum buffer, sharded
    _assert_plan_agrees(result)


def _give_up(rank: int, world_size: int, folder: str) -> None:
    Path(folder, f"pid{rank}").write_text(str(os.getpid()))
    if rank == 1:
        raise ValueError("rank 1 gives up")
    import torch.distributed as dist

    dist.barrier()  # rank 1 never joins


def _hang(rank: int, world_size: int, folder: str) -> None:
    Path(folder, f"pid{rank}").write_text(str(os.getpid()))
    if rank == 1:
        time.sleep(600)
    import torch.distributed as dist

    dist.barrier()


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state


def _wait_gone(pids: list[int]) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.05)
    return all(_gone(p) for p in pids)


def _pids(folder: Path) -> list[int]:
    return [int((folder / f"pid{r}").read_text()) for r in range(2)]


def test_a_failed_rank_ends_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(launch_mod, "GRACE_S", 1.0)
    started = time.monotonic()
    outcomes = launch(_give_up, str(tmp_path), 2, timeout_s=60)
    assert time.monotonic() - started < 20
    assert [o.ok for o in outcomes] == [False, False]  # rank 0: its peer closed the connection, or stopped
    assert outcomes[1].error == "ValueError: rank 1 gives up" and outcomes[1].exit_code == 10
    assert _wait_gone(_pids(tmp_path))


def test_a_hung_collective_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr(launch_mod, "GRACE_S", 1.0)
    started = time.monotonic()
    outcomes = launch(_hang, str(tmp_path), 2, timeout_s=3)
    assert time.monotonic() - started < 15
    assert not outcomes[0].ok
    assert outcomes[1].error == "rank 1 did not finish within 3 s (a hung collective?)"
    assert _wait_gone(_pids(tmp_path))


def test_interrupt_reaps_every_rank(tmp_path, monkeypatch):
    def interrupted(procs, results, got, timeout_s):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (tmp_path / "pid0").exists():
            time.sleep(0.05)
        raise KeyboardInterrupt

    monkeypatch.setattr(launch_mod, "_collect", interrupted)
    with pytest.raises(KeyboardInterrupt):
        launch(_hang, str(tmp_path), 2, timeout_s=60)
    pids = [int(p.read_text()) for p in tmp_path.glob("pid*")]
    assert pids and _wait_gone(pids)


def test_cli_ddp_exit_10_one_line(cli):
    code, out, err = cli(
        "verify", f"{MODELS}:build_unused", "-p", "stem", "--input-shape", "6", "--ddp", "2", "--steps", "2"
    )
    assert code == 10
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("freezekit: error: DDP (find_unused_parameters=False) fails")
    assert "rank 0" in out and "plan, given the parameters without gradient" in out


def test_cli_fsdp_json(cli):
    code, out, err = cli(
        "verify",
        f"{MODELS}:build_lm",
        "-p",
        "embed",
        "--input-shape",
        "8",
        "--fsdp",
        "2",
        "--shard-by",
        "TransformerEncoderLayer",
        "--optimizer",
        "sgd",
        "--steps",
        "1",
        "--format",
        "json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["engine"] == "fsdp" and doc["world_size"] == 2 and doc["ok"] is True
    assert doc["shard_by"] == ["TransformerEncoderLayer"]
    assert doc["dtype"] == "float32" and [m["output_dtype"] for m in doc["measured"]] == ["float32"] * 2
    assert doc["memory_plan"]["per_rank"]["optimizer"] == 0
    assert [m["optimizer"]["total"] for m in doc["measured"]] == [0, 0]
    assert sum(m["params"]["total"] for m in doc["measured"]) == 2 * doc["memory_plan"]["per_rank"]["params"]


def test_cli_input_the_model_cannot_take_is_a_usage_error(cli):
    code, out, err = cli("verify", f"{MODELS}:build_cnn", "--input-shape", "5", "--ddp", "2")
    assert code == 2 and out == ""
    assert err.startswith(
        "freezekit: error: rank 0 of 2: the training step failed on the synthetic input (inputs 2x5): "
    )
    assert err.strip().endswith("pass --input-shape C,H,W or --batch-size N")
    code, _, err = cli("verify", f"{MODELS}:build_cnn", "--ddp", "2")
    assert code == 2 and "cannot infer an input" in err  # found before any process starts
    code, _, err = cli("verify", f"{MODELS}:build_cnn", "--input-shape", "3,8,8", "--default", "frozen", "--fsdp", "2")
    assert code == 2 and "every parameter is frozen" in err


def test_batchnorm_policy_frozen_leaves_the_replaced_affine_out_of_the_plan():
    options = _options("cnn", batchnorm=BatchNormPolicy.FROZEN)
    result = verify_distributed(options, DistOptions(Engine.DDP, 2, input_shape=(3, 8, 8), steps=1, timeout_s=90))
    assert [c.name for c in result.checks if not c.ok] == []
    assert result.ranks[0].missing == ("block1.1.weight", "block1.1.bias")
    assert result.plan.params.frozen == (8 * 3 * 9 + 8) * 4  # the conv only: the BN's 16 elements are buffers now
    _assert_plan_agrees(result)


def test_a_frozen_parameter_moved_in_place_fails_the_bit_identical_check(cli):
    code, out, err = cli(
        "verify",
        f"{MODELS}:build_drifting",
        "-p",
        "stem",
        "--input-shape",
        "6",
        "--ddp",
        "2",
        "--steps",
        "1",
        "--format",
        "json",
    )
    assert code == 10
    failed = {c["name"]: c for c in json.loads(out)["checks"] if not c["ok"]}
    assert list(failed) == ["frozen parameters bit-identical on every rank"]
    assert failed["frozen parameters bit-identical on every rank"]["offenders"] == ["stem.weight"]
    assert err.startswith("freezekit: error: frozen parameters bit-identical on every rank: moved or differ")
