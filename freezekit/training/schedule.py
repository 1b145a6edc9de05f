"""`freezekit.Schedule`: gradual unfreezing from the config's `stages:`.

Each stage's rules apply on top of the previous stage's result (ordered, last wins, strict: a rule
that selects nothing is a NoMatchError naming the stage). `Schedule(model, config)` applies the
stage `at: 0` at once, so the optimizer built next holds the right parameters; `step(n, optimizer)`
applies every stage whose `at` is reached, then adds the newly trainable parameters the optimizer
does not hold yet: one group per decay class, lr = optimizer.defaults['lr'] x the stage's lr_scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.config import config_of
from ..core.groups import no_decay_set
from ..core.name_lists import first_names
from ..core.plan import Default, make_plan
from ..core.records import Inventory
from ..core.training_config import Stage
from ..errors import NoMatchError, RuleError, UsageError
from .param_groups import model_no_decay

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class StageChange:
    """What one stage changed: loggable as a dict."""

    stage: int
    at: int
    unfrozen: tuple[str, ...]
    frozen: tuple[str, ...]
    unfrozen_numel: int
    groups_added: int
    trainable: int  # elements trainable after the stage
    total: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "at": self.at,
            "unfrozen_tensors": len(self.unfrozen),
            "unfrozen_numel": self.unfrozen_numel,
            "frozen_tensors": len(self.frozen),
            "groups_added": self.groups_added,
            "trainable_params": self.trainable,
            "frozen_params": self.total - self.trainable,
        }


class Schedule:
    """The stages of a config, applied to `model` as training reaches them (`unit`: epoch or step)."""

    def __init__(self, model: "nn.Module", config: Any):
        training = config_of(config).training
        if not training.stages:
            raise UsageError("the config has no 'stages:' section: a Schedule needs at least one stage")
        self.model, self.stages, self.unit = model, training.stages, training.unit
        self.section = training.optimizer
        self.applied = 0  # stages applied so far
        if self.stages[0].at == 0:
            self.step(0, None)

    @property
    def done(self) -> bool:
        return self.applied == len(self.stages)

    def due(self, now: int) -> bool:
        """Whether a stage starts at or before `now` and is not applied yet."""
        return self.applied < len(self.stages) and self.stages[self.applied].at <= now

    def step(self, now: int, optimizer: "torch.optim.Optimizer | None", lr_scheduler: Any = None) -> list[StageChange]:
        """Apply the stages that start at or before `now` (an epoch or step); [] when none does.
        With `lr_scheduler` (an LRScheduler such as LambdaLR, or a wrapper holding one as `.scheduler`),
        the groups added follow its shape from their own base lr (see `follow`)."""
        changes = []
        while self.due(now):
            groups = len(optimizer.param_groups) if optimizer is not None else 0
            changes.append(self._apply(self.stages[self.applied], optimizer))
            self.applied += 1
            if optimizer is not None:
                follow(lr_scheduler, optimizer.param_groups[groups:])
        return changes

    def _apply(self, stage: Stage, optimizer: "torch.optim.Optimizer | None") -> StageChange:
        from ..adapter.inventory import apply_plan, inventory_of

        inventory = inventory_of(self.model)
        try:
            plan = make_plan(
                inventory, stage.rules, Default.KEEP, strict=True, lenient_hint="a stage's rules are strict"
            )
        except NoMatchError as exc:
            raise NoMatchError(f"{stage.label}: {exc}") from exc
        before = [p.requires_grad for p in inventory.params]
        unfrozen = [i for i, d in enumerate(plan.decisions) if d.trainable and not before[i]]
        frozen = [i for i, d in enumerate(plan.decisions) if before[i] and not d.trainable]
        held = _held(optimizer)
        tensors = dict(self.model.named_parameters())
        refrozen = [inventory.params[i].name for i in frozen if id(tensors[inventory.params[i].name]) in held]
        if refrozen and not stage.refreeze:
            raise RuleError(
                f"{stage.label} would freeze {len(refrozen)} parameter(s) the optimizer holds "
                f"({first_names(refrozen)}); add 'refreeze: true' to the stage to drop them from their groups"
            )
        apply_plan(self.model, plan)
        if optimizer is not None and refrozen:
            _drop(optimizer, {id(tensors[n]) for n in refrozen})
        added = self._add_groups(optimizer, inventory, unfrozen, stage, tensors) if optimizer is not None else 0
        return StageChange(
            stage.index,
            stage.at,
            tuple(inventory.params[i].name for i in unfrozen),
            tuple(inventory.params[i].name for i in frozen),
            sum(inventory.params[i].numel for i in unfrozen),
            added,
            sum(p.numel for p, d in zip(inventory.params, plan.decisions) if d.trainable),
            sum(p.numel for p in inventory.params),
        )

    def _add_groups(self, optimizer, inventory: Inventory, unfrozen: list[int], stage: Stage, tensors) -> int:  # noqa: ANN001
        held = _held(optimizer)
        new = [i for i in unfrozen if id(tensors[inventory.params[i].name]) not in held]
        if not new:
            return 0
        lr = optimizer.defaults["lr"] * stage.lr_scale
        if self.section is None:  # no optimizer section: one group, the optimizer's own weight decay
            optimizer.add_param_group({"params": [tensors[inventory.params[i].name] for i in new], "lr": lr})
            return 1
        no_decay = no_decay_set(inventory, self.section, model_no_decay(self.model))
        added = 0
        for decays in (True, False):
            chosen = [tensors[inventory.params[i].name] for i in new if (i not in no_decay) == decays]
            if chosen:
                wd = self.section.weight_decay if decays else 0.0
                optimizer.add_param_group({"params": chosen, "lr": lr, "weight_decay": wd})
                added += 1
        return added


def follow(lr_scheduler: Any, groups: list[dict]) -> None:
    """Let an LRScheduler built before these groups existed scale them too: each gets its lr as its
    base lr (`initial_lr`, `base_lrs`) and, for LambdaLR-like schedulers, the last group's lambda.
    Without this, torch refuses the next `scheduler.step()` (its lists are shorter than the groups)."""
    scheduler = getattr(lr_scheduler, "scheduler", lr_scheduler)  # accelerate's AcceleratedScheduler
    base_lrs = getattr(scheduler, "base_lrs", None)
    if not groups or not isinstance(base_lrs, list):
        return
    lambdas = getattr(scheduler, "lr_lambdas", None)
    for group in groups:
        group.setdefault("initial_lr", group["lr"])
        base_lrs.append(group["initial_lr"])
        if isinstance(lambdas, list) and lambdas:
            lambdas.append(lambdas[-1])


def _held(optimizer: "torch.optim.Optimizer | None") -> set[int]:
    return {id(p) for g in optimizer.param_groups for p in g["params"]} if optimizer is not None else set()


def _drop(optimizer: "torch.optim.Optimizer", ids: set[int]) -> None:
    """Remove parameters from their groups (and their optimizer state); empty groups stay, lr intact."""
    for group in optimizer.param_groups:
        kept = [p for p in group["params"] if id(p) not in ids]
        for p in group["params"]:
            if id(p) in ids:
                optimizer.state.pop(p, None)
        group["params"] = kept
