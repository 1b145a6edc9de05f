"""Optimizer parameter groups from rules, over the inventory (pure: no torch).

Every trainable parameter lands in exactly one group (tied tensors once: the inventory holds each
once); frozen parameters in none. A group is one (layer id, lr scale, weight decay) triple:
- weight decay: `optimizer.weight_decay`, except 0 for the no-decay set: by default 1-D tensors
  (biases, norm weights) and the names the model's own `no_weight_decay()` returns, as timm and
  transformers do; a `no_decay:` list replaces that default (selectors as in rules, no error when
  one matches nothing: a list written for several model families stays valid);
- lr scale: `layer_decay ** (last layer id - layer id)` (1 without layer_decay), times the scale of
  the last `lr_scale:` entry selecting the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import NoMatchError, RuleError
from .records import Inventory
from .rules import Rule, Selector
from .training_config import OptimizerSection


@dataclass(frozen=True)
class GroupSpec:
    """One parameter group: which parameters (record names), and how they are optimised."""

    layer_id: int
    lr_scale: float
    weight_decay: float
    params: tuple[str, ...]
    numel: int

    @property
    def name(self) -> str:
        return f"layer_{self.layer_id}_{'decay' if self.weight_decay else 'no_decay'}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layer_id": self.layer_id,
            "lr_scale": self.lr_scale,
            "weight_decay": self.weight_decay,
            "tensors": len(self.params),
            "numel": self.numel,
            "params": list(self.params),
        }


def no_decay_set(inventory: Inventory, section: OptimizerSection, model_no_decay: tuple[str, ...] = ()) -> set[int]:
    """Indices of the parameters that get no weight decay."""
    selector = Selector(inventory)
    if section.no_decay is None:
        chosen = {i for i, p in enumerate(inventory.params) if len(p.shape) <= 1}
        patterns: tuple[str, ...] = tuple(n for n in model_no_decay if n)
    else:
        chosen, patterns = set(), section.no_decay
    for i, pattern in enumerate(patterns):
        chosen |= selector.select(Rule("freeze", pattern, f"optimizer.no_decay[{i}]"))
    return chosen


def _lr_factors(inventory: Inventory, section: OptimizerSection) -> list[float]:
    selector = Selector(inventory)
    factors = [1.0] * len(inventory.params)
    for i, entry in enumerate(section.lr_scale):
        rule = Rule("unfreeze", entry.select, f"optimizer.lr_scale[{i}]")
        chosen = selector.select(rule)
        if not chosen:
            raise NoMatchError(
                f"optimizer.lr_scale[{i}] '{entry.select}' selects no parameter: {selector.no_match_reason(rule)}"
            )
        if not any(inventory.params[j].requires_grad for j in chosen):
            raise RuleError(
                f"optimizer.lr_scale[{i}] '{entry.select}' selects only frozen parameters, and no group holds a "
                "frozen parameter: unfreeze them first, or drop the entry"
            )
        for j in chosen:
            factors[j] = entry.scale
    return factors


def plan_groups(
    inventory: Inventory, section: OptimizerSection, layer_ids: list[int], model_no_decay: tuple[str, ...] = ()
) -> tuple[GroupSpec, ...]:
    """The groups, in the order their first parameter is registered (as timm orders them)."""
    top = max(layer_ids, default=0)
    decay = section.layer_decay
    scales = [1.0 if decay is None else decay ** (top - i) for i in range(top + 1)]
    no_decay = no_decay_set(inventory, section, model_no_decay)
    factors = _lr_factors(inventory, section)
    members: dict[tuple[int, float, float], list[int]] = {}
    for i, p in enumerate(inventory.params):
        if not p.requires_grad:
            continue
        wd = 0.0 if i in no_decay else section.weight_decay
        members.setdefault((layer_ids[i], scales[layer_ids[i]] * factors[i], wd), []).append(i)
    return tuple(
        GroupSpec(
            layer, scale, wd, tuple(inventory.params[i].name for i in idx), sum(inventory.params[i].numel for i in idx)
        )
        for (layer, scale, wd), idx in members.items()
    )


@dataclass(frozen=True)
class GroupsView:
    """What `freezekit groups` prints: one row per group, and what they came from."""

    source: str
    section: OptimizerSection
    groups: tuple[GroupSpec, ...]
    lr: float | None = None  # a base lr: each group's lr is shown
    warnings: tuple[str, ...] = ()

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for g in self.groups:
            row = g.as_dict()
            if self.lr is not None:
                row["lr"] = self.lr * g.lr_scale
            out.append(row)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": "freezekit.groups",
            "schema_version": 1,
            "model": self.source,
            "optimizer": self.section.as_dict(),
            "base_lr": self.lr,
            "groups": self.rows(),
            "totals": {
                "groups": len(self.groups),
                "tensors": sum(len(g.params) for g in self.groups),
                "numel": sum(g.numel for g in self.groups),
            },
        }
