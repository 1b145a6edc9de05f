"""`freezekit.param_groups`: torch parameter groups from the config's `optimizer:` section.

The grouping itself is pure (core/groups.py); this module reads what only the model knows: which
tensors are trainable now, a timm model's own `group_matcher` (its layer ids, so the groups equal
timm's `param_groups_layer_decay`) and `no_weight_decay()`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..core.blocks import layer_ids, layer_ids_by_selectors
from ..core.config import config_of
from ..core.groups import GroupSpec, plan_groups
from ..core.records import Inventory
from ..core.training_config import OptimizerSection
from ..errors import UsageError

if TYPE_CHECKING:
    from torch import nn


def optimizer_section(config: Any = None, **overrides: Any) -> OptimizerSection:
    """The config's `optimizer:` section (or the defaults), with the keywords given replacing its keys.
    The keywords are checked as the same keys in a YAML config would be."""
    section = (config_of(config).training.optimizer if config is not None else None) or OptimizerSection()
    given = {k: v for k, v in overrides.items() if v is not None}
    if isinstance(given.get("lr_scale"), Mapping):
        given["lr_scale"] = [{"select": k, "scale": v} for k, v in given["lr_scale"].items()]
    for key in ("no_decay", "layers"):
        if isinstance(given.get(key), (tuple, str)):
            given[key] = list(given[key]) if isinstance(given[key], tuple) else [given[key]]
    if not given:
        return section
    parsed = config_of({"optimizer": given}).training.optimizer
    assert parsed is not None  # the mapping has the key
    return replace(section, **{k: getattr(parsed, k) for k in given})


def model_layer_ids(model: "nn.Module", inventory: Inventory, section: OptimizerSection) -> list[int]:
    """`layers:` when given; a timm model's own group_matcher; else the repeated-blocks rule."""
    if section.layers is not None:
        return layer_ids_by_selectors(inventory, section.layers, "optimizer.layers")
    matcher = getattr(model, "group_matcher", None)
    if callable(matcher) and type(model).__module__.startswith("timm."):
        from timm.models import group_parameters

        layer_map = group_parameters(model, matcher(coarse=False), reverse=True)
        top = max(layer_map.values(), default=0)
        return [layer_map.get(p.name, top) for p in inventory.params]
    return layer_ids(inventory)


def model_no_decay(model: "nn.Module") -> tuple[str, ...]:
    """The names a model's own `no_weight_decay()` returns (timm ViTs: cls_token, pos_embed, ...)."""
    method = getattr(model, "no_weight_decay", None)
    return tuple(sorted(str(n) for n in method())) if callable(method) else ()


def group_layout(model: "nn.Module", section: OptimizerSection) -> tuple[GroupSpec, ...]:
    """The groups as data (names, lr scale, weight decay): what `freezekit groups` prints."""
    from ..adapter.inventory import inventory_of

    inventory = inventory_of(model)
    return plan_groups(inventory, section, model_layer_ids(model, inventory, section), model_no_decay(model))


def param_groups(
    model: "nn.Module",
    config: Any = None,
    *,
    weight_decay: float | None = None,
    no_decay: Sequence[str] | None = None,
    layer_decay: float | None = None,
    lr_scale: Sequence[Mapping] | Mapping[str, float] | None = None,
    layers: Sequence[str] | None = None,
    lr: float | None = None,
) -> list[dict[str, Any]]:
    """torch param groups for the trainable parameters of `model`, each tied tensor once, each in
    exactly one group: `params`, `weight_decay`, `lr_scale`, `name`, and `lr` (= lr x lr_scale) when
    `lr` is given. `config` is a YAML path or the same mapping (its `optimizer:` section); the
    keywords replace that section's keys. Raises the CLI's errors (ConfigError, NoMatchError...)."""
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0):
        raise UsageError(f"lr={lr!r}: give a positive number, or None to leave lr to the optimizer's default")
    section = optimizer_section(
        config, weight_decay=weight_decay, no_decay=no_decay, layer_decay=layer_decay, lr_scale=lr_scale, layers=layers
    )
    return torch_groups(model, group_layout(model, section), lr)


def torch_groups(model: "nn.Module", specs: tuple[GroupSpec, ...], lr: float | None) -> list[dict[str, Any]]:
    tensors = dict(model.named_parameters())
    out = []
    for spec in specs:
        group = {"params": [tensors[n] for n in spec.params], "weight_decay": spec.weight_decay}
        group.update(lr_scale=spec.lr_scale, name=spec.name)
        if lr is not None:
            group["lr"] = lr * spec.lr_scale
        out.append(group)
    return out
