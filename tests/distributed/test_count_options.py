"""count --memory-plan / --shard-by / --fsdp-flat and the distributed options' usage errors (no processes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MODELS = Path(__file__).with_name("dist_models.py")
UNUSED = f"{MODELS}:build_unused"  # stem 84, body 156, spare 39, head 52 elements (float32)
LM = f"{MODELS}:build_lm"


def test_memory_plan_json(cli):
    code, out, err = cli(
        "count",
        UNUSED,
        "-p",
        "stem",
        "--memory-plan",
        "--world-size",
        "2",
        "--strategy",
        "zero2",
        "--optimizer",
        "adam",
        "--format",
        "json",
    )
    assert code == 0, err
    plan = json.loads(out)["memory_plan"]
    assert plan == {
        "strategy": "zero2",
        "world_size": 2,
        "optimizer": "adam",
        "param_dtype": None,
        "precision": None,
        # params 336 + 988 B; grads 988 / 2; (2 x 988 + 4 x 6 counters) / 2
        "per_rank": {"params": 1324, "grads": 494, "optimizer": 1000, "total": 2818},
        "frozen": {"params": 336, "grads": 0, "optimizer": 0, "total": 336},
        "trainable": {"params": 988, "grads": 494, "optimizer": 1000, "total": 2482},
    }


def test_memory_plan_table_and_markdown(cli):
    code, out, _ = cli(
        "count",
        UNUSED,
        "--memory-plan",
        "--strategy",
        "fsdp",
        "--world-size",
        "4",
        "--param-dtype",
        "bf16",
        "--optimizer",
        "sgd",
    )
    assert code == 0
    assert "Memory plan per rank: fsdp, world size 4, sgd, bfloat16" in out
    assert "\ntotal         0 B      332 B  332 B\n" in out  # params and grads: 331 x 2 B / 4, rounded up
    code, out, _ = cli("count", UNUSED, "--memory-plan", "--format", "markdown")
    assert code == 0 and "| total | 0 B | 5.2 KiB | 5.2 KiB |" in out  # ddp, 1 rank, adamw: 1324 x 4 + 4 x 8


def test_units_listed_and_fsdp_flat_fails_naming_them(cli):
    args = ("count", LM, "-p", "embed", "-p", "layers.0.linear1", "--shard-by", "TransformerEncoderLayer")
    code, out, err = cli(*args, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["unit_types"] == {"types": ["TransformerEncoderLayer"], "how": "--shard-by"}
    assert [(u["name"], u["frozen_tensors"], u["trainable_tensors"], u["mixed"]) for u in doc["units"]] == [
        ("layers.0", 2, 10, True),
        ("layers.1", 0, 12, False),
        ("layers.2", 0, 12, False),
        ("layers.3", 0, 12, False),
        ("", 1, 2, True),
    ]
    code, out, err = cli(*args, "--fsdp-flat")
    assert code == 10
    assert "\nlayers.0  TransformerEncoderLayer  " in out and "MIXED" in out
    assert err.strip().splitlines() == [
        "freezekit: error: --fsdp-flat: 2 FSDP units mix frozen and trainable parameters, which FSDP1 with "
        "use_orig_params=False refuses (FlatParameter requires uniform requires_grad): layers.0 "
        "(TransformerEncoderLayer: 2 frozen, 10 trainable tensors; fix: --shard-by TransformerEncoderLayer,Linear); "
        "(root) (TinyLM: 1 frozen, 2 trainable tensors; fix: --shard-by TransformerEncoderLayer,Embedding)"
    ]
    code, _, err = cli("count", LM, "-p", "embed", "--shard-by", "TransformerEncoderLayer,Embedding", "--fsdp-flat")
    assert code == 0, err  # the suggested rule works


def test_fsdp_flat_uses_the_repeated_blocks(cli):
    code, out, err = cli("count", LM, "-p", "embed", "-p", "layers.0", "-p", "layers.1", "--fsdp-flat")
    assert code == 10 and "units (repeated blocks: TransformerEncoderLayer" in out
    assert "(root) (TinyLM: 1 frozen, 2 trainable tensors" in err


@pytest.mark.parametrize(
    "args, code, message",
    [
        (("count", UNUSED, "--world-size", "8"), 2, "go with --memory-plan"),
        (("count", UNUSED, "--memory-plan", "--format", "csv"), 2, "not --format csv"),
        (("count", UNUSED, "--memory-plan", "--strategy", "tp"), 2, "'tp' is not one of"),
        (("count", LM, "--shard-by", "Nope"), 8, "--shard-by Nope: no module of type Nope"),
        (("count", LM, "--shard-by", "A,,B"), 2, "--shard-by A,,B: expected module class names"),
        (("verify", UNUSED, "--ddp", "2", "--fsdp", "2"), 2, "--ddp and --fsdp exclude each other"),
        (("verify", UNUSED, "--ddp", "2", "--shard-by", "Linear"), 2, "--shard-by goes with --fsdp N"),
        (("verify", UNUSED, "--optimizer", "sgd"), 2, "go with --ddp N or --fsdp N"),
        (("verify", UNUSED, "--ddp", "2", "--compare"), 2, "single-process option"),
        (("verify", UNUSED, "--ddp", "2", "--device", "cuda:1"), 2, "pass --device cuda"),
        (("verify", UNUSED, "--ddp", "0"), 2, "--ddp '0': expected a number of ranks (1 or more), or 'env'"),
    ],
)
def test_usage_errors(cli, args, code, message):
    got, out, err = cli(*args)
    assert got == code and message in err and out == ""
    assert len(err.strip().splitlines()) == 1
