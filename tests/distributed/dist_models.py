"""Tiny models for the distributed checks (real process groups): each trains in milliseconds."""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """Two conv blocks and a head; the tests freeze the first block. Input 3x8x8."""

    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.block2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        return self.head(self.block2(self.block1(x)).mean(dim=(2, 3)))


class TinyLM(nn.Module):
    """Embedding, four encoder layers, a head. verify's synthetic inputs are floats, so the forward
    turns them into token ids first. Input: a sequence of 8 values."""

    def __init__(self, vocab: int = 32, dim: int = 16, depth: int = 4):
        super().__init__()
        self.vocab = vocab
        self.embed = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, 2, 32, dropout=0.0, batch_first=True) for _ in range(depth)
        )
        self.head = nn.Linear(dim, vocab)

    def forward(self, x):
        tokens = (x.abs() * 1000).long() % self.vocab
        h = self.embed(tokens)
        for layer in self.layers:
            h = layer(h)
        return self.head(h)


class WithUnused(nn.Module):
    """`spare` is trainable but takes no part in the forward pass: DDP fails on it."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(6, 12)
        self.body = nn.Linear(12, 12)
        self.spare = nn.Linear(12, 3)
        self.head = nn.Linear(12, 4)

    def forward(self, x):
        return self.head(torch.relu(self.body(torch.relu(self.stem(x)))))


def build_cnn() -> nn.Module:
    return SmallCNN()


def build_lm() -> nn.Module:
    return TinyLM()


def build_unused() -> nn.Module:
    return WithUnused()


class Drifting(nn.Module):
    """Moves its (frozen) stem in place during forward, by an amount that depends on the input: the
    bit-identical check must catch it, on every rank and across ranks."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(6, 12)
        self.head = nn.Linear(12, 4)

    def forward(self, x):
        with torch.no_grad():
            self.stem.weight.add_(x.mean())
        return self.head(torch.relu(self.stem(x)))


def build_drifting() -> nn.Module:
    return Drifting()


class DiesOnRankOne(nn.Module):
    """Rank 1's process exits in the middle of the first forward; rank 0 then sees gloo's
    'Connection reset by peer' in its backward: the error must name rank 1, not rank 0's input."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(6, 4)

    def forward(self, x):
        import os

        import torch.distributed as dist

        if dist.get_rank() == 1:
            os._exit(3)
        return self.stem(x)


def build_dies_on_rank_one() -> nn.Module:
    return DiesOnRankOne()


def build_noisy() -> nn.Module:
    """Prints in every forward (debug code does), which only the ranks run."""

    class Noisy(WithUnused):
        def forward(self, x):
            print("forward")
            return super().forward(x) + self.spare(torch.zeros(12)).sum()

    return Noisy()
