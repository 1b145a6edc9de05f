"""An hf: config's sizes are capped before anything is built (issue 20, class 10): exit 4, one line
naming the key path, nothing written; the build-time budget stops what the estimate does not know."""

from __future__ import annotations

import json

import pytest

from freezekit.errors import ExitCode
from freezekit.sources.hf_config_size import MAX_MODULES, MODULES_PER_LAYER, check_config_size
from tests.cli.test_bad_inputs import snapshot
from tests.sources.hub_fixtures import LLAMA_70B, hub_env  # noqa: F401 - the autouse offline cache

pytest.importorskip("transformers")

TINY = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "vocab_size": 64,
    "num_hidden_layers": 2,
}
MIXTRAL = {**TINY, "architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "num_local_experts": 10_000_000}
CLIP = {
    "architectures": ["CLIPModel"],
    "model_type": "clip",
    "text_config": {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_attention_heads": 2,
        "num_hidden_layers": 1_000_000,
    },
    "vision_config": {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_attention_heads": 2,
        "num_hidden_layers": 1,
        "image_size": 32,
        "patch_size": 16,
    },
}

CASES = {
    "a million layers": (
        {**TINY, "num_hidden_layers": 1_000_000},
        (),
        "config.json's num_hidden_layers = 1000000 would build about 16,000,000 modules, past the limit of 100,000",
    ),
    "a nested config's layers": (CLIP, (), "config.json's text_config.num_hidden_layers = 1000000 would build"),
    "ten million experts": (MIXTRAL, (), "config.json's num_local_experts = 10000000 would build about "),
    "a width past any tensor": (
        {**TINY, "hidden_size": 10**12},
        (),
        "config.json's hidden_size = 1000000000000 "
        "would build about 8 x 10^24 parameters, past the "
        "limit of 100,000,000,000,000",
    ),
    "a 401-digit vocabulary": (
        {**TINY, "vocab_size": 10**400},
        (),
        "config.json's vocab_size = 1" + "0" * 79 + "\u2026 (401 characters) would build about 16 x 10^400 parameters",
    ),
    "layers from --arg": (TINY, ("--arg", "num_hidden_layers=1000000"), "config.json's num_hidden_layers = 1000000"),
}


@pytest.mark.parametrize("config, extra, fragment", CASES.values(), ids=CASES.keys())
def test_oversized_config_is_refused_before_building(cli, tmp_path, monkeypatch, config, extra, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    before = snapshot(tmp_path)
    code, out, err = cli(
        "freeze", "hf:model", *extra, "--manifest", "m.json", "--save", "out.safetensors", "--no-cache"
    )
    assert (code, out) == (ExitCode.MODEL, "")
    assert err.splitlines() == [f"freezekit: error: hf:model: {err.split('hf:model: ', 1)[1].rstrip()}"]
    assert fragment in err and "(docs/security.md); a config asking for that is refused before anything is built" in err
    assert snapshot(tmp_path) == before


def test_the_build_budget_stops_a_size_the_estimate_does_not_read(cli, tmp_path, monkeypatch):
    """A layer key the estimate does not know (simulated: it reads no layer key here), a low budget."""
    from freezekit.adapter import build_budget
    from freezekit.sources import hf_config_size

    monkeypatch.setattr(build_budget, "MAX_REGISTRATIONS", 2_000)
    monkeypatch.setattr(hf_config_size, "LAYER_KEYS", ())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "config.json").write_text(json.dumps({**TINY, "num_hidden_layers": 5_000}))
    code, out, err = cli("freeze", "hf:deep", "--manifest", "m.json", "--no-cache")
    assert (code, out) == (ExitCode.MODEL, "")
    assert err.splitlines() == [
        "freezekit: error: hf:deep: building it registered more than 2,000 modules and parameters, freezekit's "
        "limit for a model built from a config (docs/security.md); stopped"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep"]
    from torch.nn.modules import module as torch_module

    assert not torch_module._global_module_registration_hooks  # the hooks are gone after the build
    assert not torch_module._global_parameter_registration_hooks


def test_published_sizes_pass_and_the_limit_is_exact():
    check_config_size(LLAMA_70B, "hf:llama-70b")  # 80 layers: 1,280 modules, 70 B parameters
    check_config_size({**TINY, "num_hidden_layers": MAX_MODULES // MODULES_PER_LAYER}, "hf:x")  # exactly the limit
    with pytest.raises(Exception, match="num_hidden_layers = 6251 would build about 100,016 modules"):
        check_config_size({**TINY, "num_hidden_layers": MAX_MODULES // MODULES_PER_LAYER + 1}, "hf:x")
