"""The BatchNorm section of a report, from records alone (no torch): which norm layers are frozen,
and whether their running statistics will still update under the chosen policy.

The policies (applied to a real model by adapter/batchnorm.py):
  train   leave layers as they are; warn when a frozen layer will update its statistics in train()
  eval    keep frozen layers in eval mode, also after a later model.train()
  frozen  replace frozen layers by FrozenBatchNorm (affine parameters become buffers)
A layer counts as frozen when it has affine parameters and none of them is trainable. A layer
without running statistics (track_running_stats=False) always normalises with the batch's own
statistics: eval and frozen leave it as it is, since replacing it would change its output.
"""

from __future__ import annotations

from dataclasses import dataclass

from .choice import Choice
from .name_lists import first_names
from .plan import Plan
from .records import Inventory

BN_BASE = "_BatchNorm"  # BatchNorm1d/2d/3d, SyncBatchNorm, LazyBatchNorm*
ALREADY_FROZEN = "FrozenBatchNorm2d"


class BatchNormPolicy(Choice):
    TRAIN = "train"
    EVAL = "eval"
    FROZEN = "frozen"


DEFAULT_POLICY = BatchNormPolicy.TRAIN  # when none was chosen; decided here only


@dataclass(frozen=True)
class NormRow:
    """One normalisation layer and what training will do to it (filled by the BatchNorm policy)."""

    name: str
    type: str
    affine_trainable: bool | None  # None: the layer has no affine parameters
    stats_update: bool  # running statistics change during a train() forward pass
    note: str = ""


def effective(policy: BatchNormPolicy | None) -> BatchNormPolicy:
    """The policy in force: the chosen one, else the default."""
    return DEFAULT_POLICY if policy is None else policy


def norm_rows(inventory: Inventory, plan: Plan, policy: BatchNormPolicy) -> tuple[tuple[NormRow, ...], tuple[str, ...]]:
    if not inventory.modules:  # a checkpoint: no module types, no norm layers to report
        return (), ()
    trainable = {name: d.trainable for d in plan.decisions for name in d.param.names}
    tracked = {b.module for b in inventory.buffers if b.name.endswith(".running_mean")}
    rows, updating = [], []
    seen = set()
    for m in inventory.modules:
        if m.name in seen or not (m.is_a(BN_BASE) or m.is_a(ALREADY_FROZEN)):
            continue
        seen.add(m.name)
        if m.is_a(ALREADY_FROZEN):
            rows.append(NormRow(m.name, m.type, None, False, "already frozen (statistics and affine are buffers)"))
            continue
        affine = [trainable[f"{m.name}.{a}"] for a in ("weight", "bias") if f"{m.name}.{a}" in trainable]
        affine_trainable = any(affine) if affine else None
        tracks = m.name in tracked
        frozen = affine_trainable is False
        if frozen and not tracks and policy in (BatchNormPolicy.EVAL, BatchNormPolicy.FROZEN):
            rows.append(NormRow(m.name, m.type, False, False, "no running statistics: left as is"))
        elif frozen and policy is BatchNormPolicy.EVAL:
            rows.append(NormRow(m.name, m.type, False, False, "kept in eval mode"))
        elif frozen and policy is BatchNormPolicy.FROZEN:
            rows.append(
                NormRow(m.name, m.type, False, False, "replaced by FrozenBatchNorm: weight and bias become buffers")
            )
        else:
            note = "frozen, yet updates in train()" if frozen and tracks else ""
            rows.append(NormRow(m.name, m.type, affine_trainable, tracks, note))
            if frozen and tracks:
                updating.append(m.name)
    warnings = []
    if updating:
        warnings.append(
            f"{len(updating)} frozen BatchNorm layer(s) will still update their running statistics "
            f"in train() mode ({first_names(updating, 3)}); use --batchnorm eval or --batchnorm frozen"
        )
    return tuple(rows), tuple(warnings)
