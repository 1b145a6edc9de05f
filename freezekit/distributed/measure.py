"""On one rank: the local bytes of parameters, gradients and optimizer state, and digests of values.

FSDP2 parameters, gradients and optimizer states are DTensors. A parameter's and a gradient's bytes
are those FSDP2 allocates: the whole storage under the local shard, padded on dim 0 to ceil(d0 / W)
rows (torch/distributed/fsdp/_fully_shard/_fsdp_param.py), counted once per storage (a unit's
gradients are views of one reduce-scatter output). Optimizer states are made by torch.optim from the
unpadded local shard: their elements, so rank 0 (whose chunk is never short) holds the most.
Digests of DTensors are taken over the full tensor, which is a collective: every rank must call
`digests` with the same names in the same order.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Iterable

from .memory_plan import Split

if TYPE_CHECKING:
    import torch
    from torch import nn


def _local(t: "torch.Tensor") -> "torch.Tensor":  # a DTensor's shard on this rank
    from torch.distributed.tensor import DTensor

    return t.to_local() if isinstance(t, DTensor) else t


def _nbytes(t: "torch.Tensor") -> int:
    t = _local(t)
    return t.numel() * t.element_size()


def _allocated(t: "torch.Tensor", seen: set[int]) -> int:
    """A DTensor's whole (padded) local storage, once per storage; a plain tensor's elements."""
    from torch.distributed.tensor import DTensor

    if not isinstance(t, DTensor):
        return _nbytes(t)
    storage = t.to_local().untyped_storage()
    if storage.nbytes() == 0 or storage.data_ptr() in seen:
        return 0
    seen.add(storage.data_ptr())
    return storage.nbytes()


def measure(model: "nn.Module", optimizer: "torch.optim.Optimizer | None") -> tuple[Split, Split, Split]:
    """(params, grads, optimizer state) bytes on this rank, frozen and trainable apart."""
    import torch

    params, grads = Split(), Split()
    seen: set[int] = set()
    for p in model.parameters():  # each tied tensor once
        size = _allocated(p, seen)
        params += Split(0, size) if p.requires_grad else Split(size, 0)
        if p.grad is not None:
            g = _allocated(p.grad, seen)
            grads += Split(0, g) if p.requires_grad else Split(g, 0)
    states = Split()
    for param, state in optimizer.state.items() if optimizer is not None else ():
        size = sum(_nbytes(v) for v in state.values() if isinstance(v, torch.Tensor))
        states += Split(0, size) if param.requires_grad else Split(size, 0)
    return params, grads, states


def digest(t: "torch.Tensor") -> str:
    from torch.distributed.tensor import DTensor

    full = t.full_tensor() if isinstance(t, DTensor) else t
    data = full.detach().to("cpu").contiguous().reshape(-1).view(dtype=__import__("torch").uint8)
    return hashlib.blake2b(data.numpy().tobytes(), digest_size=16).hexdigest()


def digests(named: Iterable[tuple[str, "torch.Tensor"]]) -> dict[str, str]:
    return {name: digest(t) for name, t in named}
