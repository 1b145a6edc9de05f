"""count --memory-plan --precision/--activations through the CLI, and their usage errors."""

from __future__ import annotations

import json

import pytest

from tests.sources.hub_fixtures import LLAMA_70B, hub_env  # noqa: F401 - the fixture keeps the hub offline


def _plan(cli, *args):
    code, out, err = cli("count", *args, "--memory-plan", "--format", "json")
    assert code == 0, err
    return json.loads(out)["memory_plan"]


def test_resnet18_activations_the_issue_s_figures(cli):
    full = _plan(cli, "resnet18", "--activations", "--batch-size", "8")
    top = _plan(
        cli, "resnet18", "--default", "frozen", "-u", "layer4", "-u", "fc", "--activations", "--batch-size", "8"
    )
    assert full["per_rank"]["activations"] == 177_477_120
    assert top["per_rank"]["activations"] == 8_867_840
    assert full["per_rank"]["total"] == 46_758_048 * 2 + 93_516_344 + 177_477_120  # states + activations


def test_precision_table_says_its_assumptions(cli):
    code, out, err = cli(
        "count", "resnet18", "--memory-plan", "--precision", "bf16-mixed", "--world-size", "8", "--strategy", "zero2"
    )
    assert code == 0, err
    assert "Memory plan per rank: zero2, world size 8, adamw, stored dtypes, bf16-mixed precision" in out
    assert "ZeRO paper accounting" in " ".join(out.split())


def test_llama_70b_activations_on_meta(cli, tmp_path):
    """The exact figure; its speed and memory targets (< 10 s, < 1 GiB) are benchmarks/activation_forecast.py's."""
    pytest.importorskip("transformers")
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_70B))
    plan = _plan(
        cli,
        f"hf:{tmp_path}",
        "--no-cache",
        "--precision",
        "bf16-mixed",
        "--activations",
        "--batch-size",
        "1",
        "--seq-len",
        "4096",
        "--checkpointing",
        "LlamaDecoderLayer",
    )
    assert plan["per_rank"]["activations"] == ACT_70B


ACT_70B = 7_267_762_176  # 80 layer inputs (80 x 4096 x 8192 x 2 B) + one layer recomputed + the logits


@pytest.mark.parametrize(
    "args, code, culprit",
    [
        (("--memory-plan", "--precision", "tf32"), 2, "tf32"),
        (("--memory-plan", "--activations"), 2, "--activations needs --batch-size N"),
        (
            ("--memory-plan", "--activations", "--batch-size", "2", "--seq-len", "0"),
            2,
            "--seq-len 0: must be at least 1",
        ),
        (
            ("--memory-plan", "--batch-size", "2"),
            2,
            "--batch-size, --seq-len, --input-shape and --checkpointing go with --activations",
        ),
        (("--precision", "bf16"), 2, "go with --memory-plan"),
        (
            ("--memory-plan", "--activations", "--batch-size", "2", "--checkpointing", "Bottleneck"),
            8,
            "--checkpointing Bottleneck: no module of type Bottleneck in this model",
        ),
    ],
)
def test_bad_input_one_line(cli, args, code, culprit):
    got, out, err = cli("count", "resnet18", *args)
    assert got == code and culprit in err and out == ""
    assert len(err.strip().splitlines()) == 1 or code == 2


def test_activations_on_a_checkpoint_say_they_need_a_model(cli, tmp_path):
    import torch

    path = tmp_path / "w.pt"
    torch.save({"a.weight": torch.zeros(2, 2)}, path)
    got, out, err = cli("count", str(path), "--memory-plan", "--activations", "--batch-size", "1")
    assert got == 2 and "--activations needs a model to run" in err and out == ""


def test_peft_model_units_are_its_decoder_layers(cli, tmp_path_factory):
    """PEFT's fsdp_auto_wrap_policy wraps the model's _no_split_modules, not every LoRA Linear."""
    pytest.importorskip("peft")
    import peft
    from transformers import LlamaForCausalLM

    from tests.sources.hub_fixtures import _llama_config, _save

    base = LlamaForCausalLM(_llama_config(2))
    lora = peft.get_peft_model(base, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    folder = _save(lora, tmp_path_factory.mktemp("lora-units"))
    _save(base, folder / "base")
    code, out, err = cli(
        "count", f"hf:{folder}", "--base", f"hf:{folder / 'base'}", "--fsdp-flat", "--format", "json", "--no-cache"
    )
    doc = json.loads(out)
    assert doc["unit_types"] == {"types": ["LlamaDecoderLayer"], "how": "_no_split_modules"}
    assert [u["type"] for u in doc["units"]] == ["LlamaDecoderLayer", "LlamaDecoderLayer", "PeftModelForCausalLM"]
    assert code == 10 and "2 FSDP units mix frozen and trainable" in err  # the LoRA layers inside each


MLP = "from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))\n"


def test_a_factory_s_activations_take_its_input_shape(cli, tmp_path):
    """Batch 3 of 16 features: the first Linear saves its input (3 x 16 x 4 B), the ReLU's output
    (3 x 32 x 4 B) serves the ReLU's and the second Linear's backward, stored once: 576 B."""
    (tmp_path / "mlp.py").write_text(MLP)
    args = (f"{tmp_path / 'mlp.py'}:build", "--trust-code", "--activations", "--batch-size", "3")
    assert _plan(cli, *args, "--input-shape", "16")["per_rank"]["activations"] == 3 * 16 * 4 + 3 * 32 * 4
    code, out, err = cli("count", *args, "--memory-plan", "--input-shape", "17")
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err.startswith(
        "freezekit: error: --activations: the forward on the meta device failed on the synthetic input"
    )
    assert err.rstrip().endswith("pass --input-shape C,H,W (or --seq-len TOKENS for hf:)")
    code, out, err = cli("count", *args, "--memory-plan", "--input-shape", "16,99999999999999999999")
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err.startswith("freezekit: error: --activations: cannot build a synthetic input of 3 samples: ")
