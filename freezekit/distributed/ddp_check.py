"""DistributedDataParallel as production jobs build it: find_unused_parameters=False."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

UNFINISHED_REDUCTION = "Expected to have finished reduction in the prior iteration"


def wrap(model: "nn.Module", device: str) -> "nn.Module":
    """DDP broadcasts rank 0's parameters and buffers and builds its gradient buckets here, from
    the requires_grad flags as they are now (why freezing must come first)."""
    from torch.nn.parallel import DistributedDataParallel

    ids = [int(device.split(":")[1])] if device.startswith("cuda") else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=False)


def bucket_bytes(engine: "nn.Module") -> int:
    """The bytes of DDP's gradient buckets, from its own logging data (the sizes in bytes, comma-separated:
    the rebuilt buckets after the first step, else the initial ones). `_get_ddp_logging_data` is the
    only place DDP tells them; torch's own tests read it too."""
    data = engine._get_ddp_logging_data()  # type: ignore[operator]
    sizes = data.get("rebuilt_bucket_sizes") or data.get("bucket_sizes") or ""
    return sum(int(s) for s in str(sizes).split(",") if s.strip())


def translate(error: str) -> str:
    """DDP's deferred unused-parameter error, said in one line."""
    if UNFINISHED_REDUCTION in error:
        return (
            "DDP (find_unused_parameters=False) raised 'Expected to have finished reduction in the prior "
            "iteration before starting a new one' at the next forward: trainable parameters got no gradient"
        )
    return error
