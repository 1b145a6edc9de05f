"""A bitsandbytes quantization_config read from config.json: which records take the packed dtype
(pure, hand-built records), and an hf: model and a PEFT adapter built from such a config."""

from __future__ import annotations

import json

import pytest

from freezekit.core.records import Inventory, ParamRecord
from freezekit.sources.bnb_config import bnb_dtype, quantized_inventory
from tests.sources.hub_fixtures import *  # noqa: F403 - fixtures

NF4 = {"quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}}


@pytest.mark.parametrize(
    "quant, dtype",
    [
        ({"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}, "nf4"),
        ({"quant_method": "bitsandbytes", "load_in_4bit": True}, "fp4"),  # BitsAndBytesConfig's default
        ({"quant_method": "bitsandbytes", "load_in_8bit": True}, "int8"),
        ({"quant_method": "gptq", "bits": 4}, None),
        ({"load_in_4bit": True, "bnb_4bit_quant_type": "int2"}, None),
        ("load_in_4bit", None),
    ],
)
def test_bnb_dtype(quant, dtype):
    assert bnb_dtype({"quantization_config": quant}) == dtype
    assert bnb_dtype({}) is None


def _record(name: str, module_type: str = "Linear") -> ParamRecord:
    return ParamRecord(name, (64, 64), "bfloat16", name.rpartition(".")[0], module_type)


def test_linear_weights_are_packed_but_the_kept_modules_and_adapters():
    names = [
        "model.layers.0.self_attn.q_proj.base_layer.weight",  # PEFT's wrapper of the quantized layer
        "model.layers.0.self_attn.q_proj.lora_A.default.weight",  # created after quantization
        "model.layers.0.mlp.up_proj.weight",
        "model.layers.0.mlp.up_proj.bias",
        "lm_head.weight",
        "model.lm_head_extra.weight",  # neither lm_head nor a name ending in it: quantized
    ]
    inventory = Inventory((*map(_record, names), _record("model.norm.weight", "LlamaRMSNorm")))
    out = quantized_inventory(inventory, NF4, "hf:x")
    assert [p.dtype for p in out.params] == ["nf4", "bfloat16", "nf4", "bfloat16", "bfloat16", "nf4", "bfloat16"]
    assert out.notes == (
        "hf:x: config.json asks bitsandbytes for nf4 weights: the 3 nn.Linear weights it would quantize (all "
        "but lm_head) are counted at their logical size with nf4 bytes (two values per byte plus a float32 "
        "absmax per 64); the others as built",
    )
    skip = {**NF4["quantization_config"], "llm_int8_skip_modules": ["model.layers.0.mlp", "q_proj"]}
    dtypes = [p.dtype for p in quantized_inventory(inventory, {"quantization_config": skip}, "hf:x").params]
    assert dtypes[:6] == ["bfloat16"] * 4 + ["nf4", "nf4"]  # a list of its own replaces lm_head, as in transformers
    assert quantized_inventory(inventory, {}, "hf:x") is inventory


def test_hf_model_and_adapter_on_a_4bit_config(cli, tiny_llama, tiny_lora, tmp_path):
    """tiny_llama's config with NF4 added: its 28 decoder Linear weights (4 layers x 7) are nf4;
    built for values (verify, --save) the model is what transformers builds, so nothing changes there."""
    config = json.loads((tiny_llama / "config.json").read_text())
    folder = tmp_path / "nf4"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**config, **NF4}))
    plain = report_json(cli, f"hf:{tiny_llama}", "--no-cache")  # noqa: F405
    packed = report_json(cli, f"hf:{folder}", "--no-cache")  # noqa: F405
    linear = 4 * (16 * 16 * 2 + 16 * 8 * 2 + 3 * 16 * 32)  # q, o; k, v; gate, up, down
    assert packed["totals"]["total"] == plain["totals"]["total"]
    assert packed["totals"]["bytes_by_dtype"]["nf4"] == linear // 2
    assert packed["totals"]["bytes"] == plain["totals"]["bytes"] - linear * 4 + linear // 2  # float32 as saved
    adapter = report_json(cli, f"hf:{tiny_lora}", "--base", f"hf:{folder}", "--no-cache")  # noqa: F405
    assert adapter["totals"]["bytes_by_dtype"]["nf4"] == linear // 2  # the adapters stay float32
    assert adapter["totals"]["trainable"] == 4 * (4 * 16 + 16 * 4 + 4 * 16 + 8 * 4)  # r 4 on q_proj and v_proj
