"""What `freezekit groups` computes: the model and rules of the settings, then the groups of the
config's `optimizer:` section (core/groups.GroupsView, drawn by render/groups_render.py)."""

from __future__ import annotations

from dataclasses import replace

from ..core.blocks import layer_ids
from ..core.config import config_of
from ..core.groups import GroupsView, plan_groups
from ..core.training_config import OptimizerSection
from ..pipeline.audit import apply_to_model, plan_for
from ..pipeline.settings import Settings
from ..pipeline.stdout_guard import stdout_to_stderr
from ..sources.registry import source_type
from .param_groups import group_layout


def run_groups(settings: Settings, lr: float | None = None) -> GroupsView:
    """Build the model (on the meta device unless values are needed), apply the rules, group."""
    cfg = config_of(settings.config_path) if settings.config_path else None
    section = (cfg.training.optimizer if cfg else None) or OptimizerSection()
    with stdout_to_stderr():
        loaded = source_type(settings.source.kind).load(settings.source, settings.materialize)
    plan = plan_for(loaded.inventory, settings)
    if loaded.model is not None:
        apply_to_model(loaded.model, plan)
        groups = group_layout(loaded.model, section)
    else:  # a checkpoint: no module tree, so every tensor is layer 0 and no model's no_weight_decay()
        trainable = {d.param.name for d in plan.decisions if d.trainable}
        params = tuple(replace(p, requires_grad=p.name in trainable) for p in loaded.inventory.params)
        inventory = replace(loaded.inventory, params=params)
        groups = plan_groups(inventory, section, layer_ids(inventory))
    return GroupsView(settings.source.text, section, groups, lr, plan.warnings)
