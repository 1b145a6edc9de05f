"""The activation forecast: saved-tensor hooks on the meta device give the bytes real tensors save."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from freezekit.adapter.activations import saved_bytes


def _freeze_all_but(model: nn.Module, *prefixes: str) -> nn.Module:
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(prefixes))
    return model


def _both(build, x_shape, *trainable, checkpointing=(), dtype=torch.float32, integer=None, devices=("meta", "cpu")):
    """Saved bytes on meta and with real CPU tensors (seeded), for the same model and input shape."""
    out = []
    for device in devices:
        torch.manual_seed(0)
        with torch.device(device):
            model = build()
        if trainable:
            _freeze_all_but(model, *trainable)
        model.train()
        x = (
            torch.randint(0, integer, x_shape, device=device)
            if integer
            else torch.randn(*x_shape, device=device, dtype=dtype)
        )
        out.append(saved_bytes(model, lambda m, x=x: m(x), checkpointing))
    return out


@pytest.mark.parametrize("trainable, expected", [((), 177_477_120), (("layer4", "fc"), 8_867_840)])
def test_resnet18_batch_8_the_issue_s_figures_on_meta(trainable, expected):
    assert _both(torchvision.models.resnet18, (8, 3, 224, 224), *trainable, devices=("meta",)) == [expected]


@pytest.mark.parametrize("trainable, expected", [((), 3_663_360), (("layer4", "fc"), 204_800)])
def test_resnet18_meta_equals_measured_on_cpu(trainable, expected):  # batch 2 at 64 px: a CPU forward in ms
    assert _both(torchvision.models.resnet18, (2, 3, 64, 64), *trainable) == [expected, expected]


def test_vit_meta_equals_measured():
    def vit():
        return torchvision.models.VisionTransformer(32, 8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32)

    meta, cpu = _both(vit, (2, 3, 32, 32))
    assert meta == cpu == 83_056


def _tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=64,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(config)


def test_tiny_llama_with_and_without_checkpointing_meta_equals_measured():
    full = _both(_tiny_llama, (2, 12), integer=64)
    ckpt = _both(_tiny_llama, (2, 12), checkpointing=("LlamaDecoderLayer",), integer=64)
    frozen_prefix = _both(_tiny_llama, (2, 12), "model.layers.2", "lm_head", integer=64)
    assert full[0] == full[1] == 85_344
    assert ckpt[0] == ckpt[1] == 36_576  # the layers' inputs, plus one layer's own saved tensors
    assert frozen_prefix[0] == frozen_prefix[1] == 28_608
