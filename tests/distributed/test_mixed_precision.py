"""`verify --ddp/--fsdp N --dtype bfloat16`: the real engines on 2 gloo ranks, bfloat16 compute.

DDP runs its forward and loss under autocast; FSDP2 shards with MixedPrecisionPolicy(param_dtype=bf16,
reduce_dtype=fp32). Both keep float32 parameters, gradients and optimizer states, so the bytes each
rank holds equal the engine presets under bf16-mixed (torch-ddp, torch-fsdp2: stored dtype), exactly,
not the plain bf16-mixed formula. Only persistent bytes are measured (FSDP2's unsharded units are not).
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
    assert memory["ok"] and "not the plain bf16-mixed formula" in memory["detail"]
    plan = doc["memory_plan"]
    assert (plan["strategy"], plan["precision"]) == ({"ddp": "torch-ddp", "fsdp": "torch-fsdp2"}[engine], "bf16-mixed")
    if engine == "fsdp":  # the transient: the root unit (embedding, head) and one layer unsharded in bfloat16
        layer = 2_224 * (2 + 4)  # its bf16 copy and its float32 gradients before reduce-scatter
        root = (32 * 16) * 2 + (16 * 32 + 32) * (2 + 4)  # the frozen embedding, the head with its gradients
        assert plan["per_rank"]["buffers"] == layer + root and plan["padding"] == 0
    else:  # DDP's buckets: a float32 copy of every trainable gradient
        assert plan["per_rank"]["buffers"] == [m["buckets"] for m in doc["measured"]][0] == plan["trainable"]["grads"]
    for part in PARTS:
        for side in ("frozen", "trainable"):
            measured = [m[part][side] for m in doc["measured"]]
            assert measured == [plan[side][part]] * 2, (part, side, measured, plan[side][part])  # even dims


def test_output_dtype_is_the_first_tensor_s():
    bf16, fp32 = torch.zeros(1, dtype=torch.bfloat16), torch.zeros(1)
    assert _dtype_of(bf16) == "bfloat16"
    assert _dtype_of({"loss": None, "logits": bf16}) == "bfloat16"  # a ModelOutput is a dict
    assert _dtype_of((fp32, bf16)) == "float32" and _dtype_of(None) == ""
