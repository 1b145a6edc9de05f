"""Regular expressions from files through the CLI: a recipe's rule and a PEFT adapter's target_modules
that backtrack catastrophically end with one line and exit 7 within their budget (issue 20, class 9)."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from freezekit.core import time_budget as budget
from tests.cli.test_bad_inputs import F32x2, safetensors_file
from tests.sources.hub_fixtures import *  # noqa: F403 - fixtures

CATASTROPHIC = r"((\w|\.)+)+X"


def test_a_recipe_rule_that_backtracks_ends_with_exit_7(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(budget, "REGEX_BUDGET_S", 0.5)
    name = safetensors_file(tmp_path, "w.safetensors", {"encoder.layers.encoder_layer_11.mlp.0.weight": F32x2})
    (tmp_path / "recipe.yaml").write_text(f"rules:\n  - freeze: 're:{CATASTROPHIC}'\n")
    started = time.monotonic()
    code, out, err = cli("count", tmp_path / name, "-c", tmp_path / "recipe.yaml", "--no-cache")
    assert time.monotonic() - started < 10
    assert code == 7 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("freezekit: error: ") and "did not finish matching the model's names within 0.5 s" in err


def test_the_same_pattern_on_the_command_line_is_the_users_own(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(budget, "REGEX_BUDGET_S", 0.01)
    name = safetensors_file(tmp_path, "w.safetensors", {"a.w": F32x2})
    code, _, err = cli("count", tmp_path / name, "-p", r"re:((\w|\.)+)+", "--no-cache")  # fast: no budget needed
    assert code == 0, err


def test_a_peft_target_modules_pattern_that_backtracks_ends_with_exit_7(
    cli, tiny_llama, tiny_lora, tmp_path, monkeypatch
):
    pytest.importorskip("peft")
    monkeypatch.setattr(budget, "PEFT_BUDGET_S", 1.0)
    adapter = tmp_path / "adapter"
    shutil.copytree(tiny_lora, adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "target_modules": CATASTROPHIC}))
    started = time.monotonic()
    code, out, err = cli("count", f"hf:{adapter}", "--base", f"hf:{tiny_llama}", "--no-cache")
    assert time.monotonic() - started < 15
    assert code == 7 and out == "", err
    assert len(err.strip().splitlines()) == 1
    assert "peft did not finish matching adapter_config.json's module patterns" in err and "within 1 s" in err
