"""FSDP2: fully_shard each module of the --shard-by types (bottom-up), then the root."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn
    from torch.distributed.fsdp import MixedPrecisionPolicy


def _is_a(module: "nn.Module", types: tuple[str, ...]) -> bool:
    return any(c.__name__ in types for c in type(module).__mro__)


def sync_from_rank0(model: "nn.Module") -> None:
    """Every rank starts from rank 0's values, as FSDP1's sync_module_states did (FSDP2 does not)."""
    import torch
    import torch.distributed as dist

    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            dist.broadcast(t.data, src=0)


def policy(dtype: str) -> "MixedPrecisionPolicy":
    """bfloat16: compute on transient bf16 copies of the float32 shards, gradients reduced and kept
    in float32 (so the stored bytes are those of float32 training); float32: FSDP2's default."""
    import torch
    from torch.distributed.fsdp import MixedPrecisionPolicy

    if dtype == "bfloat16":
        return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    return MixedPrecisionPolicy()


def wrap(
    model: "nn.Module", shard_by: tuple[str, ...], device: str, world_size: int, dtype: str = "float32"
) -> tuple["nn.Module", tuple[str, ...]]:
    """Shard `model` in place; returns it and the names given their own unit, the root ("") last."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    sync_from_rank0(model)
    mesh = init_device_mesh("cuda" if device.startswith("cuda") else "cpu", (world_size,))
    blocks = [(name, m) for name, m in model.named_modules() if name and _is_a(m, shard_by)]
    mp = policy(dtype)
    for _, m in reversed(blocks):  # children before their parents
        fully_shard(m, mesh=mesh, mp_policy=mp)
    fully_shard(model, mesh=mesh, mp_policy=mp)
    return model, tuple(name for name, _ in blocks) + ("",)
