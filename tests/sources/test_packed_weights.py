"""Where a tensor is not one parameter: pruning reparametrizations, packed quantized weights."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from torch.nn.utils import prune

from tests.sources.hub_fixtures import *  # noqa: F403 - fixtures


def pruned_net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))
    prune.l1_unstructured(net[0], "weight", amount=0.5)
    return net


def test_a_pruned_module_counts_weight_orig_once():
    import freezekit

    net = pruned_net()
    assert freezekit.count(net).total == 8 * 4 + 4 + 4 * 2 + 2 == sum(p.numel() for p in net.parameters())


def test_a_pruned_checkpoint_counts_weight_orig_once_and_says_so(cli, tmp_path):
    path = tmp_path / "pruned.safetensors"
    save_file({k: v.contiguous() for k, v in pruned_net().state_dict().items()}, path)
    code, out, err = cli("count", path, "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["totals"]["total"] == 8 * 4 + 4 + 4 * 2 + 2
    assert d["buffers"] == {"tensors": 1, "numel": 32}
    assert "1 pruned weights: counted once as *_orig" in err


def test_bitsandbytes_4bit_checkpoint_counts_logical_parameters_and_packed_bytes(cli, tmp_path):
    """The keys bitsandbytes writes for a Params4bit (Linear 32 -> 16, nf4, blocksize 64)."""
    path = tmp_path / "nf4.safetensors"
    save_file(
        {
            "proj.weight": torch.zeros(256, 1, dtype=torch.uint8),  # 16 * 32 values, two per byte
            "proj.weight.absmax": torch.ones(8),
            "proj.weight.quant_map": torch.ones(16),
            "proj.weight.quant_state.bitsandbytes__nf4": torch.zeros(120, dtype=torch.uint8),
            "proj.bias": torch.zeros(16),
            "norm.weight": torch.ones(32),
        },
        path,
    )
    code, out, err = cli("freeze", path, "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    params = {p["name"]: (p["numel"], p["dtype"]) for p in d["parameters"]}
    assert params == {"proj.weight": (512, "nf4"), "proj.bias": (16, "float32"), "norm.weight": (32, "float32")}
    assert d["totals"]["total"] == 512 + 16 + 32
    assert d["totals"]["bytes"] == 256 + 16 * 4 + 32 * 4  # the packed weight's stored bytes
    assert d["buffers"] == {"tensors": 3, "numel": 8 + 16 + 120}
    assert "1 bitsandbytes 4-bit weights: counted as 2 parameters per stored byte" in err


def test_bitsandbytes_8bit_and_gptq_checkpoints(cli, tmp_path):
    path = tmp_path / "q.safetensors"
    save_file(
        {
            "a.weight": torch.zeros(4, 8, dtype=torch.int8),
            "a.weight.SCB": torch.ones(4),
            "b.qweight": torch.zeros(1, 4, dtype=torch.int32),
            "b.qzeros": torch.zeros(1, 1, dtype=torch.int32),
            "b.scales": torch.ones(1, 4, dtype=torch.float16),
        },
        path,
    )
    code, out, err = cli("count", path, "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["totals"]["total"] == 4 * 8 + 4  # int8 weight, and GPTQ's float scales (a real tensor)
    assert "1 bitsandbytes 8-bit weights" in err
    assert "2 packed quantized tensors (qweight/qzeros, GPTQ or AWQ) are not unpacked" in err


def test_a_quantized_config_counts_the_logical_model_and_says_so(cli, tmp_path):
    """bitsandbytes: its Linear weights at their packed bytes (sources/bnb_config.py); GPTQ: the config's dtype."""
    pytest.importorskip("transformers")
    for method, quant in (
        ("bnb", {"quant_method": "bitsandbytes", "load_in_4bit": True}),
        ("gptq", {"quant_method": "gptq", "bits": 4}),
    ):
        (tmp_path / method).mkdir()
        (tmp_path / method / "config.json").write_text(json.dumps({**LLAMA_70B, "quantization_config": quant}))  # noqa: F405
    code, out, err = cli("count", f"hf:{tmp_path / 'bnb'}", "--format", "json")
    assert code == 0, err
    totals = json.loads(out)["totals"]
    assert totals["total"] == 70_553_706_496
    assert totals["bytes_by_dtype"]["fp4"] == 80 * 8192 * (2 * 8192 + 2 * 1024 + 3 * 28672) // 2  # 560 Linear weights
    assert "asks bitsandbytes for fp4 weights: the 560 nn.Linear weights it would quantize (all but lm_head)" in err
    code, out, err = cli("count", f"hf:{tmp_path / 'gptq'}", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["totals"]["total"] == 70_553_706_496
    assert "describes gptq, 4-bit weights" in err and "logical (unpacked) parameters" in err
