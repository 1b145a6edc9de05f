"""The timm / transformers recipes in configs/: each run as shipped, offline (the hf: recipes read the
published config.json under configs/hf/), and on a tiny model of the same structure (the recipe's model
swapped for it, its rules and model options kept)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.sources.hub_fixtures import *  # noqa: F403 - fixtures

pytest.importorskip("transformers")
CONFIGS = Path(__file__).parent.parent.parent / "configs"
HUB_RECIPES = (
    "llama-3-8b-freeze-first-half.yaml",
    "timm-vit-base-head-and-last-two-blocks.yaml",
    "whisper-small-freeze-encoder.yaml",
    "clip-vit-b-32-linear-probe.yaml",
    "llama-3-8b-qlora.yaml",
)


def run_on(cli, recipe: str, folder: Path, tmp_path: Path) -> dict:
    """The recipe with its model replaced by hf:folder (model options kept) and without its expect:
    (the numbers are the full-size model's)."""
    data = yaml.safe_load((CONFIGS / recipe).read_text())
    if isinstance(data["model"], dict):
        data["model"]["name"] = f"hf:{folder}"
    else:
        data["model"] = f"hf:{folder}"
    data.pop("expect")
    path = tmp_path / recipe
    path.write_text(yaml.safe_dump(data))
    code, out, err = cli("count", "-c", path, "-f", "json", "--no-cache")
    assert code == 0, err
    return json.loads(out)["totals"]


def test_llm_recipe_freezes_embeddings_and_the_first_half(cli, llama32, tmp_path):
    layer = 16 * 16 * 2 + 16 * 8 * 2 + 3 * 16 * 32 + 2 * 16  # q, k, v, o; gate, up, down; 2 norms
    totals = run_on(cli, HUB_RECIPES[0], llama32, tmp_path)
    assert (totals["frozen"], totals["trainable"]) == (64 * 16 + 16 * layer, 16 * layer + 16 + 64 * 16)


def test_timm_vit_recipe_runs_as_shipped(cli):
    """vit_base_patch16_224 itself: on the meta device it costs no more than a tiny one."""
    import timm

    code, out, err = cli("count", "-c", CONFIGS / HUB_RECIPES[1], "-f", "json", "--no-cache")
    assert code == 0, err
    model = timm.create_model("vit_base_patch16_224", pretrained=False, device="meta")
    parts = [model.blocks[10], model.blocks[11], model.norm, model.head]
    assert json.loads(out)["totals"]["trainable"] == sum(p.numel() for m in parts for p in m.parameters()) == 14_946_280


def test_whisper_recipe_freezes_the_encoder(cli, tiny_whisper, tmp_path):
    from transformers import WhisperForConditionalGeneration

    real = WhisperForConditionalGeneration.from_pretrained(tiny_whisper)
    totals = run_on(cli, HUB_RECIPES[2], tiny_whisper, tmp_path)
    assert totals["frozen"] == sum(p.numel() for p in real.model.encoder.parameters())
    assert totals["trainable"] == real_total(real) - totals["frozen"]  # noqa: F405


def test_clip_linear_probe_trains_only_the_classifier(cli, tiny_clip, tmp_path):
    totals = run_on(cli, HUB_RECIPES[3], tiny_clip, tmp_path)
    assert totals["trainable"] == 16 * 10 + 10  # vision hidden 16 -> num_labels 10


@pytest.mark.parametrize(
    "recipe,trainable,frozen",
    [
        ("llama-3-8b-freeze-first-half.yaml", 4_015_132_672, 4_015_128_576),
        ("whisper-small-freeze-encoder.yaml", 153_580_800, 88_154_112),
        ("clip-vit-b-32-linear-probe.yaml", 7_690, 87_456_000),
        ("llama-3-8b-qlora.yaml", 6_815_744, 8_030_261_248),
    ],
)
def test_hf_recipe_runs_offline_as_shipped(cli, hub_env, recipe, trainable, frozen):
    """The session's own Hugging Face cache (no repo of these models in it) and HF_HUB_OFFLINE (hub_env):
    the recipe reads configs/hf/<name>/."""
    before = sorted(hub_env.rglob("*"))
    code, out, err = cli("count", "-c", CONFIGS / recipe, "-f", "json", "--no-cache")
    assert code == 0, err
    data = json.loads(out)
    assert (data["totals"]["trainable"], data["totals"]["frozen"]) == (trainable, frozen)
    assert [e["ok"] for e in data["expectations"]] == [True] * len(data["expectations"]) != []
    assert sorted(hub_env.rglob("*")) == before  # nothing fetched into the cache


def test_every_hf_recipe_ships_its_config():
    """Each hf: recipe names a folder beside it (configs/hf/<name>/config.json), never a repo id."""
    for recipe in CONFIGS.glob("*.yaml"):
        model = yaml.safe_load(recipe.read_text())["model"]
        name = model["name"] if isinstance(model, dict) else model
        if name.startswith("hf:"):
            folder = CONFIGS / name[3:]
            assert name.startswith("hf:./hf/"), recipe.name
            assert (folder / "config.json").is_file() or (folder / "adapter_config.json").is_file(), recipe.name
        if isinstance(model, dict) and "base" in model:  # a PEFT adapter's base, beside it too
            assert model["base"].startswith("./hf/") and (CONFIGS / model["base"] / "config.json").is_file()


def test_qlora_recipe_counts_its_nf4_base_packed(cli, hub_env):
    """224 decoder nn.Linear weights (6,979,321,856 values) at 4 bits; embed_tokens, lm_head and the norms
    bf16; PEFT's LoRA adapters float32; ZeRO-3 bf16-mixed on 8 ranks: the 0.71 GiB of docs/memory.md."""
    code, out, err = cli(
        "count", "-c", CONFIGS / "llama-3-8b-qlora.yaml", "-f", "json", "--no-cache", "--memory-plan",
        "--world-size", "8", "--strategy", "zero3", "--precision", "bf16-mixed",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["totals"]["bytes_by_dtype"] == {"bfloat16": 2_101_878_784, "float32": 27_262_976, "nf4": 3_489_660_928}
    base = 3_489_660_928 + 6_979_321_856 // 64 * 4 + 2_101_878_784  # packed + absmax + bf16
    assert data["memory_plan"]["per_rank"]["total"] == (base + 6_815_744 * (2 + 2 + 12)) // 8 == 767_099_904
    assert "config.json asks bitsandbytes for nf4 weights: the 224 nn.Linear weights" in err


def test_every_hub_recipe_is_tested_here():
    shipped = {p.name for p in CONFIGS.glob("*.yaml") if p.name.startswith(("llama", "timm", "whisper", "clip"))}
    assert shipped == set(HUB_RECIPES)
