"""FSDP2: fully_shard each module of the --shard-by types (bottom-up), then the root."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn


def _is_a(module: "nn.Module", types: tuple[str, ...]) -> bool:
    return any(c.__name__ in types for c in type(module).__mro__)


def sync_from_rank0(model: "nn.Module") -> None:
    """Every rank starts from rank 0's values, as FSDP1's sync_module_states did (FSDP2 does not)."""
    import torch
    import torch.distributed as dist

    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            dist.broadcast(t.data, src=0)


def wrap(
    model: "nn.Module", shard_by: tuple[str, ...], device: str, world_size: int
) -> tuple["nn.Module", tuple[str, ...]]:
    """Shard `model` in place; returns it and the names given their own unit, the root ("") last."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    sync_from_rank0(model)
    mesh = init_device_mesh("cuda" if device.startswith("cuda") else "cpu", (world_size,))
    blocks = [(name, m) for name, m in model.named_modules() if name and _is_a(m, shard_by)]
    for _, m in reversed(blocks):  # children before their parents
        fully_shard(m, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model, tuple(name for name, _ in blocks) + ("",)
