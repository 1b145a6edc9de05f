"""Small models for the training tests: a tiny ViT-like net and a tiny Llama (no weights downloaded)."""

from __future__ import annotations

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, dim)

    def forward(self, x):
        return x + self.fc(self.norm(x))


class TinyViT(nn.Module):
    """embed, a class token on the root, 3 repeated blocks, a final norm and a head."""

    def __init__(self, dim: int = 4, classes: int = 3):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, dim))
        self.embed = nn.Linear(6, dim)
        self.blocks = nn.Sequential(*[Block(dim) for _ in range(3)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        return self.head(self.norm(self.blocks(self.embed(x) + self.cls_token)))


def tiny_llama(layers: int = 2):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=64,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(config)
