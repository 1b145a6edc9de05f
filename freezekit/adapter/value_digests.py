"""The digests of a model's tensors for the manifest (core/manifest_values.py says what is hashed)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Iterable

from ..core.manifest_values import digest_of

if TYPE_CHECKING:
    from torch import Tensor, nn


def tensor_bytes(t: "Tensor") -> memoryview:
    """The tensor's values as contiguous little-endian bytes on the CPU (any dtype: bf16, fp8 too)."""
    flat = t.detach().cpu().contiguous().reshape(-1)
    if sys.byteorder != "little" and flat.element_size() > 1:  # never seen in practice; kept exact anyway
        import torch

        flat = flat.view(torch.uint8).reshape(-1, flat.element_size()).flip(1).reshape(-1)
    import torch

    if not flat.numel():
        return memoryview(b"")
    array: Any = flat.view(torch.uint8).numpy()  # a NumPy array exports the buffer protocol
    return memoryview(array)


def has_values(model: "nn.Module") -> bool:
    """False when any tensor is on the meta device (nothing to hash)."""
    return not any(t.is_meta for t in model.state_dict(keep_vars=True).values() if hasattr(t, "is_meta"))


def digests(model: "nn.Module", names: Iterable[str]) -> dict[str, str]:
    """name -> digest of the model's state_dict entry (parameters and buffers); a tensor shared
    under several names is hashed once."""
    from .inventory import dtype_name

    state = model.state_dict(keep_vars=True)
    out: dict[str, str] = {}
    done: dict[tuple, str] = {}
    for name in names:
        t = state[name]
        key = (t.data_ptr(), t.dtype, tuple(t.shape), t.stride())
        if key not in done:
            done[key] = digest_of(tuple(t.shape), dtype_name(t.dtype), [tensor_bytes(t)])
        out[name] = done[key]
    return out
