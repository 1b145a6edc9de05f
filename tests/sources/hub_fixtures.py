"""Tiny transformers models and a PEFT adapter with the structure of the real ones, saved with
save_pretrained into temp folders once per session. Nothing is downloaded.

Import the fixtures into a test module (`from tests.sources.hub_fixtures import *`) to use them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

__all__ = [
    "hub_env",
    "tiny_llama",
    "llama32",
    "tiny_vit",
    "tiny_whisper",
    "tiny_clip",
    "tiny_lora",
    "real_total",
    "plant_in_cache",
    "report_json",
    "LLAMA_70B",
]

LLAMA_70B = {  # Llama-3-70B's config.json, the numbers that fix its parameter count
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "num_hidden_layers": 80,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "tie_word_embeddings": False,
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-05,
    "rope_theta": 500000.0,
    "torch_dtype": "bfloat16",
}


@pytest.fixture(autouse=True)
def hub_env(tmp_path_factory, monkeypatch):
    """An empty Hugging Face cache of the test session's own, and no network."""
    cache = tmp_path_factory.getbasetemp() / "hf_hub_cache"
    cache.mkdir(exist_ok=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def _save(model, folder: Path) -> Path:
    model.save_pretrained(folder)
    return folder


def _llama_config(layers: int, tied: bool = False):
    from transformers import LlamaConfig

    return LlamaConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=64,
        max_position_embeddings=64,
        tie_word_embeddings=tied,
        architectures=["LlamaForCausalLM"],
    )


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A 4-layer Llama (untied), with its safetensors."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    return _save(LlamaForCausalLM(_llama_config(4)), tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def llama32(tmp_path_factory) -> Path:
    """Llama-3-8B's structure (32 layers, tied=False) at a tiny width: config.json only."""
    folder = tmp_path_factory.mktemp("llama32")
    _llama_config(32).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_vit(tmp_path_factory) -> Path:
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        image_size=32,
        patch_size=8,
        num_labels=3,
        architectures=["ViTForImageClassification"],
    )
    return _save(ViTForImageClassification(config), tmp_path_factory.mktemp("tiny-vit"))


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory) -> Path:
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    config = WhisperConfig(
        d_model=16,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        vocab_size=64,
        num_mel_bins=8,
        max_source_positions=16,
        max_target_positions=16,
        pad_token_id=1,
        bos_token_id=2,
        eos_token_id=2,
        decoder_start_token_id=3,
        suppress_tokens=[],
        begin_suppress_tokens=[],
        architectures=["WhisperForConditionalGeneration"],
    )
    return _save(WhisperForConditionalGeneration(config), tmp_path_factory.mktemp("tiny-whisper"))


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "vocab_size": 64,
            "max_position_embeddings": 16,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=8,
        architectures=["CLIPModel"],
    )
    return _save(CLIPModel(config), tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def tiny_lora(tmp_path_factory, tiny_llama) -> Path:
    """A LoRA adapter (q_proj, v_proj; lm_head saved whole) over tiny_llama, saved with save_pretrained."""
    import peft
    from transformers import LlamaForCausalLM

    base = LlamaForCausalLM.from_pretrained(tiny_llama)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    model = peft.get_peft_model(base, config)
    return _save(model, tmp_path_factory.mktemp("tiny-lora"))


def real_total(model) -> int:
    return sum(p.numel() for p in set(model.parameters()))


def plant_in_cache(
    cache: Path,
    repo_id: str,
    folder: Path,
    revision: str = "main",
    commit: str = "0123456789abcdef0123456789abcdef01234567",
) -> Path:
    """Put a folder's files where huggingface_hub keeps a cached snapshot of repo_id (its documented layout)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    shutil.copytree(folder, snapshot, dirs_exist_ok=True)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(commit)
    return snapshot


def report_json(cli, *args) -> dict:
    code, out, err = cli("count", *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)
