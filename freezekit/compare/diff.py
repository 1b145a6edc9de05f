"""`freezekit diff BEFORE AFTER`: two checkpoints compared tensor by tensor, each tensor optionally
marked frozen or trainable (by rules or a manifest), and totals. Data only; render/diff_render.py draws."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

from ..core.records import numel_of
from ..sources.checkpoint import natural_key
from .tensor_diff import Status, TensorDiff, compare_tensor, shape_text
from .tensor_files import TensorFile

Frozen = Callable[[str], "bool | None"]  # name -> frozen, trainable, or None (unknown: a buffer, no rules)


@dataclass(frozen=True)
class DiffTotals:
    tensors: int = 0
    changed: int = 0
    unchanged: int = 0
    added: int = 0
    removed: int = 0
    reshaped: int = 0
    retyped: int = 0
    changed_numel: int = 0
    unchanged_numel: int = 0


@dataclass(frozen=True)
class ModuleDiff:
    """--depth N: the tensors under one module prefix."""

    module: str
    changed_numel: int
    unchanged_numel: int
    max_rel_change: float | None


@dataclass(frozen=True)
class DiffResult:
    before: str
    after: str
    tensors: tuple[TensorDiff, ...]
    totals: DiffTotals
    rules_given: bool = False
    modules: tuple[ModuleDiff, ...] = field(default=())

    @property
    def frozen_changed(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tensors if t.frozen and t.status is not Status.UNCHANGED)

    @property
    def trainable_unchanged(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tensors if t.frozen is False and t.status is Status.UNCHANGED)


def _totals(rows: Iterable[TensorDiff]) -> DiffTotals:
    counts = {s: 0 for s in Status}
    changed_numel = unchanged_numel = 0
    n = 0
    for r in rows:
        n += 1
        counts[r.status] += 1
        if r.status is Status.UNCHANGED:
            unchanged_numel += r.numel
        elif r.status is not Status.REMOVED:
            changed_numel += r.numel
    return DiffTotals(
        tensors=n,
        changed=counts[Status.CHANGED],
        unchanged=counts[Status.UNCHANGED],
        added=counts[Status.ADDED],
        removed=counts[Status.REMOVED],
        reshaped=counts[Status.RESHAPED],
        retyped=counts[Status.RETYPED],
        changed_numel=changed_numel,
        unchanged_numel=unchanged_numel,
    )


def diff_files(before: TensorFile, after: TensorFile, frozen: Frozen | None = None) -> DiffResult:
    rows = []
    for name, entry in before.entries.items():
        if name in after.entries:
            rows.append(compare_tensor(name, before, after))
        else:
            rows.append(TensorDiff(name, Status.REMOVED, entry.dtype, shape_text(entry.shape), numel_of(entry.shape)))
    for name, entry in after.entries.items():
        if name not in before.entries:
            rows.append(TensorDiff(name, Status.ADDED, entry.dtype, shape_text(entry.shape), numel_of(entry.shape)))
    rows.sort(key=lambda r: natural_key(r.name))  # the same order whatever the files' layout or sharding
    if frozen is not None:
        rows = [replace(r, frozen=frozen(r.name)) for r in rows]
    return DiffResult(before.path, after.path, tuple(rows), _totals(rows), frozen is not None)


def by_module(result: DiffResult, depth: int) -> DiffResult:
    """The result with `modules`: one row per name prefix of `depth` dotted parts (0: the whole model)."""
    groups: dict[str, list[TensorDiff]] = {}
    for r in result.tensors:
        groups.setdefault(".".join(r.name.split(".")[:depth]) if depth else "(model)", []).append(r)
    modules = []
    for module, rows in groups.items():
        rels = [r.rel_change for r in rows if r.rel_change is not None]
        t = _totals(rows)
        modules.append(ModuleDiff(module, t.changed_numel, t.unchanged_numel, max(rels) if rels else None))
    return replace(result, modules=tuple(modules))
