"""What each stage of a schedule leaves trainable, from the inventory alone (pure: `count --stages`).

The start is the plan of the config's `rules:`; each stage's rules then apply on top of the
previous stage's result, as `freezekit.Schedule` applies them to the model (strict: a rule that
selects nothing is a NoMatchError naming the stage).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..errors import NoMatchError
from .plan import Default, Plan, make_plan
from .records import Inventory
from .training_config import Stage


@dataclass(frozen=True)
class StageRow:
    stage: int
    at: int
    lr_scale: float
    trainable: int  # elements, after the stage
    frozen: int
    unfrozen_tensors: int  # newly trainable at this stage
    unfrozen: int
    newly_frozen_tensors: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "at": self.at,
            "lr_scale": self.lr_scale,
            "trainable": self.trainable,
            "frozen": self.frozen,
            "unfrozen_tensors": self.unfrozen_tensors,
            "unfrozen": self.unfrozen,
            "newly_frozen_tensors": self.newly_frozen_tensors,
        }


def stage_plans(inventory: Inventory, plan: Plan, stages: tuple[Stage, ...]) -> tuple[Plan, ...]:
    """The plan after each stage: its rules applied on top of the previous stage's result."""
    state = [d.trainable for d in plan.decisions]
    plans = []
    for stage in stages:
        params = tuple(replace(p, requires_grad=t) for p, t in zip(inventory.params, state))
        now = replace(inventory, params=params)
        try:
            after = make_plan(now, stage.rules, Default.KEEP, strict=True, lenient_hint="a stage's rules are strict")
        except NoMatchError as exc:
            raise NoMatchError(f"{stage.label}: {exc}") from exc
        plans.append(after)
        state = [d.trainable for d in after.decisions]
    return tuple(plans)


def stage_rows(
    inventory: Inventory, plan: Plan, stages: tuple[Stage, ...], plans: tuple[Plan, ...] | None = None
) -> tuple[StageRow, ...]:
    """One row per stage; `plans`: stage_plans' result, when the caller already has it."""
    plans = plans if plans is not None else stage_plans(inventory, plan, stages)
    total = sum(p.numel for p in inventory.params)
    rows = []
    for stage, before, after in zip(stages, (plan, *plans[:-1]), plans):
        pairs = [(p, a.trainable, b.trainable) for p, a, b in zip(inventory.params, before.decisions, after.decisions)]
        unfrozen = [p for p, a, b in pairs if b and not a]
        trainable = sum(p.numel for p, _, b in pairs if b)
        rows.append(
            StageRow(
                stage.index,
                stage.at,
                stage.lr_scale,
                trainable,
                total - trainable,
                len(unfrozen),
                sum(p.numel for p in unfrozen),
                sum(1 for _, a, b in pairs if a and not b),
            )
        )
    return tuple(rows)
