"""The one place a manifest document is built, for `freeze --manifest`/`--save` and the Python API:
the plan and inventory (core/manifest.py), the BatchNorm policy, and the values' digests when the
model holds values (adapter/value_digests.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.batchnorm_policy import BatchNormPolicy, effective, norm_rows
from ..core.manifest import Manifest, build_manifest
from ..core.manifest_values import (
    NOT_RECORDED_ASKED,
    NOT_RECORDED_HEADER,
    NOT_RECORDED_META,
    RecordedValues,
    ValuesChoice,
)
from ..core.plan import Plan
from ..core.records import Inventory
from ..core.report import ModelInfo

if TYPE_CHECKING:
    from torch import nn


def frozen_norm_stats(inventory: Inventory, plan: Plan, policy: BatchNormPolicy | None) -> list[str]:
    """The running statistics the policy keeps still: those of frozen norm layers under eval or frozen."""
    if effective(policy) is BatchNormPolicy.TRAIN:
        return []
    rows, _ = norm_rows(inventory, plan, effective(policy))
    buffers = {b.name for b in inventory.buffers}
    names = [f"{r.name}.{s}" for r in rows if r.affine_trainable is False for s in ("running_mean", "running_var")]
    return [n for n in names if n in buffers]


def recorded_values(
    inventory: Inventory, plan: Plan, policy: BatchNormPolicy | None, model: "nn.Module | None", choice: ValuesChoice
) -> RecordedValues:
    if choice is ValuesChoice.NONE:
        return RecordedValues(False, NOT_RECORDED_ASKED)
    from ..adapter.value_digests import digests, has_values

    if model is None:
        return RecordedValues(False, NOT_RECORDED_HEADER)
    if not has_values(model):
        return RecordedValues(False, NOT_RECORDED_META)
    frozen = [name for d in plan.decisions if not d.trainable for name in d.param.names]
    return RecordedValues(True, "", digests(model, frozen), digests(model, frozen_norm_stats(inventory, plan, policy)))


def manifest_document(
    info: ModelInfo,
    plan: Plan,
    inventory: Inventory,
    policy: BatchNormPolicy | None,
    model: "nn.Module | None",
    choice: ValuesChoice = ValuesChoice.AUTO,
    saved: str | None = None,
) -> dict[str, Any]:
    """The manifest of this freeze; `model` (None: no model, e.g. a checkpoint's inventory) gives the
    values; `saved` is the --save file written with it, relative to the manifest's folder."""
    values = recorded_values(inventory, plan, policy, model, choice)
    return build_manifest(info, plan, inventory, policy, values, saved)


def model_values(manifest: Manifest, model: "nn.Module | None") -> dict[str, Any]:
    """`check MANIFEST [MODEL]`: the recorded digests compared with the rebuilt model's tensors (it
    holds values when the manifest names weights), as Drift fields; a note when they were not."""
    values = manifest.values
    if not values.recorded:
        return {"values_note": f"values were not compared: {values.note}"}
    from ..adapter.value_digests import digests, has_values

    if model is None or not has_values(model):
        return {
            "values_note": "values were not compared: the model was built without weights (the manifest names none)"
        }
    state = model.state_dict(keep_vars=True)
    names = [n for n in values.tensors if n in state]
    now = digests(model, names)
    stats = [n for n in values.norm_stats if n in state]
    now_stats = digests(model, stats)
    return {
        "values_changed": tuple(f"{n} (digest differs)" for n in names if now[n] != values.tensors[n]),
        "stats_moved": tuple(n for n in stats if now_stats[n] != values.norm_stats[n]),
        "values_compared": len(names),
    }
