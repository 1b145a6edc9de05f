"""The training sections of a config, as typed values (pure: no torch).

optimizer:                        # parameter groups (freezekit.param_groups, `freezekit groups`)
  weight_decay: 0.05
  no_decay: ["*.bias", "type:LayerNorm"]   # default: 1-D tensors and the model's no_weight_decay()
  layer_decay: 0.75               # lr scale layer_decay ** (last layer id - layer id)
  lr_scale: [{select: "head", scale: 10}]
  layers: ["patch_embed", "blocks.0", ...]  # optional: layer ids by selector instead of the heuristic
stages:                           # gradual unfreezing (freezekit.Schedule, `count --stages`)
  - {at: 0, freeze: ["*"], unfreeze: ["head"]}
  - {at: 2, unfreeze: ["blocks.11"], lr_scale: 0.1}
unit: epoch                       # or step
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .choice import Choice
from .rules import Rule


class ScheduleUnit(Choice):
    """What a stage's `at` counts."""

    EPOCH = "epoch"
    STEP = "step"


@dataclass(frozen=True)
class LrScale:
    select: str  # a selector, as in rules
    scale: float


@dataclass(frozen=True)
class OptimizerSection:
    weight_decay: float = 0.0
    no_decay: tuple[str, ...] | None = None  # None: 1-D tensors and the model's own no_weight_decay()
    layer_decay: float | None = None  # None: every layer at scale 1
    lr_scale: tuple[LrScale, ...] = ()
    layers: tuple[str, ...] | None = None  # None: timm's group_matcher, else the repeated-blocks rule

    def as_dict(self) -> dict[str, Any]:
        return {
            "weight_decay": self.weight_decay,
            "no_decay": None if self.no_decay is None else list(self.no_decay),
            "layer_decay": self.layer_decay,
            "lr_scale": [{"select": s.select, "scale": s.scale} for s in self.lr_scale],
            "layers": None if self.layers is None else list(self.layers),
        }


@dataclass(frozen=True)
class Stage:
    """One stage of a schedule: its rules apply at `at` on top of the previous stage's result."""

    index: int
    at: int
    rules: tuple[Rule, ...]  # the stage's freeze patterns, then its unfreeze patterns
    lr_scale: float = 1.0  # of the optimizer's base lr, for the groups this stage adds
    refreeze: bool = False  # may freeze parameters the optimizer already holds (and drops them)

    @property
    def label(self) -> str:
        return f"stages[{self.index}] (at {self.at})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "rules": [{"action": r.action, "pattern": r.pattern} for r in self.rules],
            "lr_scale": self.lr_scale,
            "refreeze": self.refreeze,
        }


@dataclass(frozen=True)
class Training:
    """The optimizer section and the schedule; empty when the config has neither."""

    optimizer: OptimizerSection | None = None
    stages: tuple[Stage, ...] = ()
    unit: ScheduleUnit = ScheduleUnit.EPOCH

    @property
    def empty(self) -> bool:
        return self.optimizer is None and not self.stages

    def as_dict(self) -> dict[str, Any]:
        """As recorded in a manifest's optional `training` key."""
        return {
            "optimizer": None if self.optimizer is None else self.optimizer.as_dict(),
            "stages": [s.as_dict() for s in self.stages],
            "unit": self.unit.value,
        }
