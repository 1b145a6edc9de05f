"""Totals and the per-module (depth) view of a plan. Pure arithmetic on records.

Tied tensors are counted once on purpose: the inventory holds one record per
distinct tensor (its other names are aliases), which is what
`sum(p.numel() for p in model.parameters())` counts too, since
`parameters()` deduplicates shared tensors. Buffers are never parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .plan import Plan
from .records import Inventory


@dataclass(frozen=True)
class Totals:
    total: int
    trainable: int
    frozen: int
    tensors: int  # distinct parameter tensors
    trainable_tensors: int
    bytes: int
    trainable_bytes: int
    bytes_by_dtype: dict[str, int] = field(default_factory=dict)
    buffers: int = 0  # buffer elements, reported apart
    buffer_tensors: int = 0

    @property
    def frozen_tensors(self) -> int:
        return self.tensors - self.trainable_tensors

    @property
    def frozen_bytes(self) -> int:
        return self.bytes - self.trainable_bytes

    @property
    def trainable_pct(self) -> float:
        return 100.0 * self.trainable / self.total if self.total else 0.0


@dataclass(frozen=True)
class ModuleRow:
    name: str
    total: int
    trainable: int

    @property
    def frozen(self) -> int:
        return self.total - self.trainable

    @property
    def frozen_share(self) -> float:
        return self.frozen / self.total if self.total else 0.0


def compute_totals(plan: Plan, inventory: Inventory) -> Totals:
    total = trainable = nbytes = trainable_bytes = trainable_tensors = 0
    by_dtype: dict[str, int] = {}
    for d in plan.decisions:
        n, b = d.param.numel, d.param.nbytes
        total += n
        nbytes += b
        by_dtype[d.param.dtype] = by_dtype.get(d.param.dtype, 0) + b
        if d.trainable:
            trainable += n
            trainable_bytes += b
            trainable_tensors += 1
    return Totals(
        total=total,
        trainable=trainable,
        frozen=total - trainable,
        tensors=len(plan.decisions),
        trainable_tensors=trainable_tensors,
        bytes=nbytes,
        trainable_bytes=trainable_bytes,
        bytes_by_dtype=dict(sorted(by_dtype.items())),
        buffers=sum(b.numel for b in inventory.buffers),
        buffer_tensors=len(inventory.buffers),
    )


def group_key(name: str, module: str, depth: int) -> str:
    """The row a parameter falls in at `depth`: its ancestor module `depth` levels down,
    or the parameter itself when its owning module sits higher than that."""
    parts = module.split(".") if module else []
    return ".".join(parts[:depth]) if len(parts) >= depth else name


def by_depth(plan: Plan, depth: int) -> tuple[ModuleRow, ...]:
    rows: dict[str, list[int]] = {}
    for d in plan.decisions:
        key = group_key(d.param.name, d.param.module, depth)
        row = rows.setdefault(key, [0, 0])
        row[0] += d.param.numel
        row[1] += d.param.numel if d.trainable else 0
    return tuple(ModuleRow(name, total, trainable) for name, (total, trainable) in rows.items())
