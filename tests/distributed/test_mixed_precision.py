"""`verify --ddp/--fsdp N --dtype bfloat16`: the real engines on 2 gloo ranks, bfloat16 compute.

DDP runs its forward and loss under autocast; FSDP2 shards with MixedPrecisionPolicy(param_dtype=bf16,
reduce_dtype=fp32). Both keep float32 parameters, gradients and optimizer states, so the bytes each
rank holds equal the plan as stored (float32), exactly, not the bf16-mixed formula.
"""

from __future__ import annotations

import json

import pytest
import torch

from freezekit.distributed.worker import _dtype_of

from .test_process_groups import MODELS

RUNS = {  # factory, frozen pattern, input shape, engine flags
    "ddp": ("build_cnn", "block1", "3,8,8", ("--ddp", "2")),
    "fsdp": ("build_lm", "embed", "8", ("--fsdp", "2", "--shard-by", "TransformerEncoderLayer")),
}
PARTS = ("params", "grads", "optimizer")


@pytest.mark.parametrize("engine", ["ddp", "fsdp"])
def test_bfloat16_run_holds_the_float32_plan_exactly(cli, engine):
    factory, frozen, shape, flags = RUNS[engine]
    code, out, err = cli(
        "verify", f"{MODELS}:{factory}", "-p", frozen, "--input-shape", shape, *flags,
        "--dtype", "bf16", "--steps", "2", "--batch-size", "2", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["engine"] == engine and doc["dtype"] == "bfloat16" and doc["ok"] is True
    assert [(m["steps_done"], m["output_dtype"]) for m in doc["measured"]] == [(2, "bfloat16")] * 2
    memory = next(c for c in doc["checks"] if c["name"].startswith("measured bytes match"))
    assert memory["ok"] and "not the bf16-mixed formula" in memory["detail"]
    plan = doc["memory_plan"]
    assert plan["precision"] is None  # as stored: float32 parameters, gradients and states
    for part in PARTS:
        for side in ("frozen", "trainable"):
            measured = [m[part][side] for m in doc["measured"]]
            assert measured == [plan[side][part]] * 2, (part, side, measured, plan[side][part])  # even dims


def test_output_dtype_is_the_first_tensor_s():
    bf16, fp32 = torch.zeros(1, dtype=torch.bfloat16), torch.zeros(1)
    assert _dtype_of(bf16) == "bfloat16"
    assert _dtype_of({"loss": None, "logits": bf16}) == "bfloat16"  # a ModelOutput is a dict
    assert _dtype_of((fp32, bf16)) == "float32" and _dtype_of(None) == ""
