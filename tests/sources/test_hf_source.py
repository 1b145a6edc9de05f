"""hf: sources: transformers models built from config.json on the meta device, counted exactly."""

from __future__ import annotations

import json

import pytest

from tests.sources.hub_fixtures import *  # noqa: F403 - fixtures

pytest.importorskip("transformers")


def test_llama_3_70b_config_alone_counts_exactly_on_meta(cli, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_70B))  # noqa: F405
    d = report_json(cli, f"hf:{tmp_path}", "--no-cache")  # noqa: F405
    assert d["totals"]["total"] == 70_553_706_496
    assert d["totals"]["bytes"] == 2 * 70_553_706_496  # torch_dtype bfloat16
    assert d["model"]["kind"] == "hf"


def test_config_without_architectures_builds_automodel_with_a_warning(cli, tmp_path, monkeypatch):
    """Llama-3-70B's config without `architectures`: AutoModel builds LlamaModel (no lm_head, 1.05 B fewer
    than the published 70,553,706,496), says so once, and the report records the class (also when cached)."""
    monkeypatch.setenv("FREEZEKIT_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "llama70"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({k: v for k, v in LLAMA_70B.items() if k != "architectures"}))  # noqa: F405
    warning = (
        f"freezekit: warning: hf:{folder}: config.json names no architecture transformers has; built "
        "LlamaModel (AutoModel), which has no task head such as lm_head or a classifier: pass --hf-class "
        "to build another class (e.g. --hf-class AutoModelForCausalLM)"
    )
    for run in ("built", "cached"):
        code, out, err = cli("count", f"hf:{folder}", "-f", "json")
        assert (code, err.splitlines()) == (0, [warning]), run
        d = json.loads(out)
        assert d["totals"]["total"] == 70_553_706_496 - 128256 * 8192 == 69_503_033_344
        assert d["model"]["hub"] == {"hf_class": "LlamaModel"}
    assert len(list((tmp_path / "cache").glob("inv-*.json"))) == 1
    code, out, err = cli("count", f"hf:{folder}", "--hf-class", "LlamaForCausalLM", "-f", "json", "--no-cache")
    assert (code, err) == (0, "") and json.loads(out)["totals"]["total"] == 70_553_706_496


@pytest.mark.parametrize(
    "fixture, cls_name",
    [
        ("tiny_llama", "LlamaForCausalLM"),
        ("tiny_vit", "ViTForImageClassification"),
        ("tiny_whisper", "WhisperForConditionalGeneration"),
        ("tiny_clip", "CLIPModel"),
    ],
)
def test_totals_equal_the_real_build(cli, request, fixture, cls_name):
    import transformers

    folder = request.getfixturevalue(fixture)
    real = getattr(transformers, cls_name).from_pretrained(folder)
    d = report_json(cli, f"hf:{folder}", "--no-cache")  # noqa: F405
    assert d["totals"]["total"] == real_total(real)  # noqa: F405
    assert d["totals"]["tensors"] == len(set(real.parameters()))


def test_tied_embeddings_count_once(cli, tmp_path):
    from transformers import LlamaConfig

    LlamaConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=64,
        tie_word_embeddings=True,
        architectures=["LlamaForCausalLM"],
    ).save_pretrained(tmp_path)
    d = cli("freeze", f"hf:{tmp_path}", "--format", "json", "--no-cache")
    assert d[0] == 0, d[2]
    report = json.loads(d[1])
    embed = next(p for p in report["parameters"] if p["name"] == "model.embed_tokens.weight")
    assert embed["aliases"] == ["lm_head.weight"]
    # 64*16 embedding once + 2 layers of (4 attn: 16*16 + 2*16*8 + 16*16 ... ) computed by hand:
    attn = 16 * 16 + 16 * 8 + 16 * 8 + 16 * 16  # q, k, v (2 KV heads of 4 dims), o
    mlp = 3 * 16 * 32
    assert report["totals"]["total"] == 64 * 16 + 2 * (attn + mlp + 2 * 16) + 16


def test_rules_work_on_transformers_names_and_types(cli, llama32):
    d = report_json(cli, f"hf:{llama32}", "-p", "through:model.layers.15")  # noqa: F405
    layer = 16 * 16 * 2 + 16 * 8 * 2 + 3 * 16 * 32 + 2 * 16
    assert d["totals"]["frozen"] == 64 * 16 + 16 * layer
    assert d["totals"]["total"] == 64 * 16 * 2 + 32 * layer + 16
    d = report_json(cli, f"hf:{llama32}", "--default", "frozen", "-u", "type:LlamaDecoderLayer")  # noqa: F405
    assert d["totals"]["trainable"] == 32 * layer
    d = report_json(cli, f"hf:{llama32}", "-p", r"re:model\.layers\.\d+\.mlp\..*", "-p", "type:Embedding")  # noqa: F405
    assert d["totals"]["frozen"] == 32 * 3 * 16 * 32 + 64 * 16


def test_hf_class_overrides_the_architecture(cli, tiny_llama):
    code, out, err = cli(
        "freeze",
        f"hf:{tiny_llama}",
        "--hf-class",
        "AutoModelForSequenceClassification",
        "--arg",
        "num_labels=3",
        "--format",
        "json",
        "--no-cache",
    )
    assert code == 0, err
    params = {p["name"]: p["shape"] for p in json.loads(out)["parameters"]}
    assert params["score.weight"] == [3, 16] and "lm_head.weight" not in params
    code, _, err = cli("count", f"hf:{tiny_llama}", "--hf-class", "NoSuchModel")
    assert code == 4 and "--hf-class NoSuchModel: not a transformers model class" in err


def _remote_code_model(tmp_path):
    """A model whose config's auto_map names code in its folder (a class transformers lacks)."""
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "tinything",
                "architectures": ["TinyThing"],
                "hidden": 4,
                "auto_map": {"AutoConfig": "tiny_thing.TinyConfig", "AutoModel": "tiny_thing.TinyThing"},
            }
        )
    )
    (tmp_path / "tiny_thing.py").write_text(
        "import torch\nfrom transformers import PretrainedConfig, PreTrainedModel\n"
        "class TinyConfig(PretrainedConfig):\n    model_type = 'tinything'\n"
        "    def __init__(self, hidden=4, **kw):\n        self.hidden = hidden\n        super().__init__(**kw)\n"
        "class TinyThing(PreTrainedModel):\n    config_class = TinyConfig\n"
        "    def __init__(self, config):\n        super().__init__(config)\n"
        "        self.proj = torch.nn.Linear(config.hidden, 3)\n        self.post_init()\n"
        "    def forward(self, x):\n        return self.proj(x)\n"
    )


def test_remote_code_needs_trust_code(cli, tmp_path):
    _remote_code_model(tmp_path)
    code, out, err = cli("count", f"hf:{tmp_path}", "--no-cache")
    assert code == 6 and out == ""
    assert "auto_map.AutoModel = tiny_thing.TinyThing" in err and "--trust-code" in err
    d = report_json(cli, f"hf:{tmp_path}", "--trust-code", "--no-cache")  # noqa: F405
    assert d["totals"]["total"] == 4 * 3 + 3


def test_repo_id_from_the_local_cache_with_revision(cli, hub_env, tiny_vit):
    plant_in_cache(hub_env, "acme/tiny-vit", tiny_vit, revision="v1")  # noqa: F405
    import transformers

    expected = real_total(transformers.ViTForImageClassification.from_pretrained(tiny_vit))  # noqa: F405
    assert report_json(cli, "hf:acme/tiny-vit", "--revision", "v1", "--no-cache")["totals"]["total"] == expected  # noqa: F405
    code, _, err = cli("count", "hf:acme/tiny-vit", "--revision", "v2")
    assert code == 4 and "not in the local Hugging Face cache at revision v2" in err
    code, _, err = cli("count", "hf:acme/absent")
    assert code == 4 and "models--acme--absent" in err and "--download" in err
    code, _, err = cli("count", "vgg16", "--revision", "v1")
    assert code == 2 and "--revision applies to hf: models" in err


def test_folder_of_weights_without_config_is_a_header_audit(cli, tiny_llama, tmp_path):
    import shutil

    shutil.copy(tiny_llama / "model.safetensors", tmp_path / "model.safetensors")
    d = report_json(cli, f"hf:{tmp_path}")  # noqa: F405
    assert d["totals"]["total"] == 4 * (16 * 16 * 2 + 16 * 8 * 2 + 3 * 16 * 32 + 2 * 16) + 2 * 64 * 16 + 16
    code, _, err = cli("count", f"hf:{tmp_path}", "-p", "type:Linear")
    assert code == 7


def test_save_materializes_the_folders_own_weights(cli, tiny_llama, tmp_path):
    from safetensors.torch import load_file

    out = tmp_path / "frozen.safetensors"
    code, _, err = cli("freeze", f"hf:{tiny_llama}", "-p", "through:model.layers.1", "--save", out, "--format", "json")
    assert code == 0, err
    saved, original = load_file(out), load_file(tiny_llama / "model.safetensors")
    assert saved["model.layers.3.mlp.up_proj.weight"].equal(original["model.layers.3.mlp.up_proj.weight"])


def test_second_count_comes_from_the_cache_without_torch(tiny_vit, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "FREEZEKIT_CACHE_DIR": str(tmp_path / "cache")}
    first = subprocess.run(
        [sys.executable, "-m", "freezekit", "count", f"hf:{tiny_vit}", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom freezekit.cli.app import app\n"
        f"r = CliRunner().invoke(app, ['count', 'hf:{tiny_vit}', '--format', 'json'])\n"
        "print(r.exit_code, 'torch' in sys.modules, 'transformers' in sys.modules)\nprint(r.stdout)"
    )
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    flags, _, out = second.stdout.partition("\n")
    assert flags == "0 False False"
    assert json.loads(out)["totals"] == json.loads(first.stdout)["totals"]
    # a changed config.json is another key: rebuilt, not served stale
    config = json.loads((tiny_vit / "config.json").read_text())
    changed = tmp_path / "vit"
    changed.mkdir()
    (changed / "config.json").write_text(json.dumps({**config, "num_labels": 5, "id2label": None, "label2id": None}))
    third = subprocess.run(
        [sys.executable, "-c", code.replace(str(tiny_vit), str(changed))],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert third.stdout.startswith("0 True")


@pytest.mark.parametrize("fixture", ["tiny_llama", "tiny_whisper", "tiny_clip"])
def test_verify_runs_real_training_steps_on_synthetic_inputs(cli, request, fixture):
    folder = request.getfixturevalue(fixture)
    rule = {"tiny_llama": "through:model.layers.1", "tiny_whisper": "model.encoder", "tiny_clip": "text_model"}[fixture]
    code, out, err = cli("verify", f"hf:{folder}", "-p", rule, "--format", "json", "--steps", "1", "--warmup", "0")
    assert code == 0, err
    result = json.loads(out)
    assert all(c["ok"] for c in result["checks"]), result["checks"]
    assert err == ""  # no progress bar, no transformers advice: stderr is freezekit's


def test_a_manifest_of_a_model_with_its_own_code_checks_only_with_trust_code(cli, tmp_path):
    folder = tmp_path / "thing"
    folder.mkdir()
    _remote_code_model(folder)
    manifest = tmp_path / "m.json"
    code, _, err = cli("freeze", f"hf:{folder}", "--trust-code", "--manifest", manifest, "--format", "json")
    assert code == 0, err
    code, out, err = cli("check", manifest)
    assert code == 6 and out == "" and "--trust-code" in err
    code, out, err = cli("check", manifest, "--trust-code")
    assert code == 0, err
