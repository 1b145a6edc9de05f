"""PEFT adapters: the base with the adapter applied, as PEFT arranges it for training."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.sources.hub_fixtures import *  # noqa: F403 - fixtures

pytest.importorskip("peft")


@pytest.fixture(scope="module")
def peft_numbers(tiny_llama, tiny_lora):
    """What PEFT itself says for the same adapter loaded for training."""
    import peft
    from transformers import LlamaForCausalLM

    model = peft.PeftModel.from_pretrained(LlamaForCausalLM.from_pretrained(tiny_llama), tiny_lora, is_trainable=True)
    return model.get_nb_trainable_parameters()  # (trainable, all)


def test_totals_equal_peft_get_nb_trainable_parameters(cli, tiny_llama, tiny_lora, peft_numbers):
    d = report_json(cli, f"hf:{tiny_lora}", "--base", f"hf:{tiny_llama}", "--no-cache")  # noqa: F405
    assert (d["totals"]["trainable"], d["totals"]["total"]) == peft_numbers
    lora = 4 * ((4 * 16 + 16 * 4) + (4 * 16 + 8 * 4))  # 4 layers of q_proj (16->16) and v_proj (16->8), r=4
    base = 4 * (16 * 16 * 2 + 16 * 8 * 2 + 3 * 16 * 32 + 2 * 16) + 2 * 64 * 16 + 16
    assert peft_numbers == (lora, base + lora) == (896, 12304)
    assert d["default"] == "keep"  # no --default: where PEFT left requires_grad


def test_base_from_base_model_name_or_path_in_the_cache(cli, hub_env, tiny_llama, tiny_lora, tmp_path, peft_numbers):
    plant_in_cache(hub_env, "acme/tiny-llama", tiny_llama)  # noqa: F405
    adapter = tmp_path / "adapter"
    shutil.copytree(tiny_lora, adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": "acme/tiny-llama"}))
    d = report_json(cli, f"hf:{adapter}")  # noqa: F405
    assert (d["totals"]["trainable"], d["totals"]["total"]) == peft_numbers


def test_a_base_path_outside_the_adapter_is_not_followed(cli, tiny_lora):
    code, out, err = cli("count", f"hf:{tiny_lora}", "--no-cache")
    assert code == 4 and out == ""
    assert "outside the adapter's folder" in err and "--base" in err


def test_rules_apply_on_top_of_the_adapter(cli, tiny_llama, tiny_lora, peft_numbers):
    d = report_json(cli, f"hf:{tiny_lora}", "--base", f"hf:{tiny_llama}", "-u", "re:.*lm_head.*", "--no-cache")  # noqa: F405
    assert d["totals"]["trainable"] == peft_numbers[0] + 64 * 16
    d = report_json(cli, f"hf:{tiny_lora}", "--base", f"hf:{tiny_llama}", "--default", "trainable", "--no-cache")  # noqa: F405
    assert d["totals"]["trainable"] == peft_numbers[1]


def test_save_loads_the_adapter_weights(cli, tiny_llama, tiny_lora, tmp_path):
    from safetensors.torch import load_file

    out = tmp_path / "merged.safetensors"
    code, _, err = cli("freeze", f"hf:{tiny_lora}", "--base", f"hf:{tiny_llama}", "--save", out, "--format", "json")
    assert code == 0, err
    saved, adapter = load_file(out), load_file(tiny_lora / "adapter_model.safetensors")
    name = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"
    stored = next(k for k in adapter if k.endswith("layers.0.self_attn.q_proj.lora_A.weight"))
    assert saved[name].equal(adapter[stored])


def test_a_manifest_records_the_base_and_check_rebuilds_with_it(cli, tiny_llama, tiny_lora, tmp_path):
    shutil.copytree(tiny_llama, tmp_path / "base")
    shutil.copytree(tiny_lora, tmp_path / "lora")
    manifest = tmp_path / "lora.json"
    code, _, err = cli(
        "freeze",
        f"hf:{tmp_path / 'lora'}",
        "--base",
        f"hf:{tmp_path / 'base'}",
        "-u",
        "re:.*lm_head.*",
        "--manifest",
        manifest,
        "--format",
        "json",
    )
    assert code == 0, err
    assert json.loads(manifest.read_text())["model"]["hub"] == {"base": "hf:base"}  # beside the manifest
    code, out, err = cli("check", manifest)
    assert code == 0, err
    assert out.startswith("manifest matches:")


def test_a_manifest_naming_folders_elsewhere_is_refused_by_check(cli, tiny_llama, tiny_lora, tmp_path):
    manifest = tmp_path / "lora.json"
    code, _, err = cli("freeze", f"hf:{tiny_lora}", "--base", f"hf:{tiny_llama}", "--manifest", manifest)
    assert code == 0, err
    code, out, err = cli("check", manifest)
    assert code == 3 and out == ""
    assert f"model.hub.base '{tiny_llama}' is an absolute path" in err


def test_a_config_names_the_adapter_and_its_base_relative_to_itself(cli, tiny_llama, tiny_lora, tmp_path, peft_numbers):
    shutil.copytree(tiny_llama, tmp_path / "base")
    shutil.copytree(tiny_lora, tmp_path / "lora")
    (tmp_path / "freeze.yaml").write_text("model:\n  name: hf:lora\n  base: hf:base\nexpect:\n  trainable: 896\n")
    d = report_json(cli, "-c", tmp_path / "freeze.yaml", "--no-cache")  # noqa: F405
    assert (d["totals"]["trainable"], d["totals"]["total"]) == peft_numbers
    assert d["model"]["source"] == f"hf:{tmp_path / 'lora'}" and d["model"]["hub"] == {
        "base": f"hf:{tmp_path / 'base'}"
    }


def test_stderr_stays_freezekits_own_when_the_adapter_loads(tiny_llama, tiny_lora, tmp_path):
    """No transformers/peft deprecation warning, log line or progress bar in a real process."""
    import subprocess
    import sys

    out = tmp_path / "m.safetensors"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "freezekit",
            "freeze",
            f"hf:{tiny_lora}",
            "--base",
            f"hf:{tiny_llama}",
            "--save",
            str(out),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and run.stderr == "" and out.is_file()
