"""Small real models shared by the tests (one place, like torchinfo's fixtures)."""

from __future__ import annotations

from torch import nn


class TiedNet(nn.Module):
    """An embedding and an output layer sharing one weight (8 x 4 = 32 elements, counted once)."""

    def __init__(self, vocab: int = 8, dim: int = 4):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.body = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.BatchNorm1d(dim))
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, x):
        return self.head(self.body(self.embed(x)))


def build_tied(vocab: int = 8, dim: int = 4) -> nn.Module:
    return TiedNet(vocab, dim)


class UnusedBranch(nn.Module):
    """`spare` is trainable but never used in forward: verify must flag it."""

    def __init__(self):
        super().__init__()
        self.used = nn.Linear(3, 2)
        self.spare = nn.Linear(3, 2)

    def forward(self, x):
        return self.used(x)


def build_tied_needing_values() -> nn.Module:
    """Reads a tensor's values while building (as the regnet builders do), so the plain meta build
    fails and the parameters-to-meta fallback runs; its two layers share one weight."""
    import torch

    width = int(torch.ones(1).item()) * 4
    model = TiedNet(8, width)
    shared = nn.Parameter(torch.zeros(8, width))  # registered under two names while still on the CPU
    model.embed.weight = shared
    model.head.weight = shared
    return model
