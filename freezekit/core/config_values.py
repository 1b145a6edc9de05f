"""Parsing config values into typed ones: the shared checks, and the training sections (pure: no torch).

`doc` is config.py's document: `doc.error(key_path, message)` builds a ConfigError naming the file,
the key path and its line.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from ..errors import ConfigError, RuleError, quoted
from .rules import Rule, validate_rule
from .suggest import did_you_mean
from .training_config import LrScale, OptimizerSection, ScheduleUnit, Stage, Training

OPTIMIZER_KEYS = ("weight_decay", "no_decay", "layer_decay", "lr_scale", "layers")
STAGE_KEYS = ("at", "freeze", "unfreeze", "lr_scale", "refreeze")
TRAINING_KEYS = ("optimizer", "stages", "unit")
MAX_STAGES = 1000


class Doc(Protocol):
    def error(self, where: str, message: str) -> ConfigError: ...


def kind_of(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "empty",
    }.get(type(value), type(value).__name__)


def check_keys(doc: Doc, where: str, data: Any, allowed: tuple[str, ...]) -> dict:
    if not isinstance(data, dict):
        raise doc.error(where, f"must be a mapping of {', '.join(allowed)}, not {kind_of(data)}")
    for key in data:
        if key not in allowed:
            sub = f"{where}.{key}" if where else key
            raise doc.error(
                sub, f"unknown key {quoted(key)}{did_you_mean(key, list(allowed))} (allowed: {', '.join(allowed)})"
            )
    return data


def _number(doc: Doc, where: str, value: Any, low: float, high: float, low_open: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if ok and (value > low if low_open else value >= low) and value <= high:
        return float(value)
    span = f"{'(' if low_open else '['}{low:g}, {high:g}]"
    raise doc.error(where, f"must be a number in {span}, not {quoted(value)}")


def _selectors(doc: Doc, where: str, value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise doc.error(where, "the list of selectors is empty")
    out = []
    for j, item in enumerate(items):
        sub = f"{where}[{j}]" if isinstance(value, list) else where
        if not isinstance(item, str) or not item.strip():
            raise doc.error(sub, f"must be a non-empty selector string, not {kind_of(item)}")
        try:
            validate_rule(Rule("freeze", item))
        except RuleError as exc:
            raise doc.error(sub, str(exc)) from exc
        out.append(item)
    return tuple(out)


def parse_training(doc: Doc, data: dict) -> Training:
    """The `optimizer:`, `stages:` and `unit:` keys of a config's top level (absent: empty)."""
    optimizer = _parse_optimizer(doc, data["optimizer"]) if "optimizer" in data else None
    stages = _parse_stages(doc, data["stages"]) if "stages" in data else ()
    unit = ScheduleUnit.EPOCH
    if "unit" in data:
        if data["unit"] not in ScheduleUnit.values():
            raise doc.error("unit", f"must be one of {', '.join(ScheduleUnit.values())}, not {quoted(data['unit'])}")
        unit = ScheduleUnit(data["unit"])
    return Training(optimizer, stages, unit)


def _parse_optimizer(doc: Doc, value: Any) -> OptimizerSection:
    spec = check_keys(doc, "optimizer", value, OPTIMIZER_KEYS)
    out: dict[str, Any] = {}
    if "weight_decay" in spec:
        out["weight_decay"] = _number(doc, "optimizer.weight_decay", spec["weight_decay"], 0, math.inf)
    if "layer_decay" in spec:
        out["layer_decay"] = _number(doc, "optimizer.layer_decay", spec["layer_decay"], 0, 1, low_open=True)
    for key in ("no_decay", "layers"):
        if key in spec:
            out[key] = _selectors(doc, f"optimizer.{key}", spec[key]) if spec[key] != [] else ()
    if "lr_scale" in spec:
        out["lr_scale"] = _parse_lr_scales(doc, spec["lr_scale"])
    return OptimizerSection(**out)


def _parse_lr_scales(doc: Doc, value: Any) -> tuple[LrScale, ...]:
    if not isinstance(value, list):
        raise doc.error(
            "optimizer.lr_scale", f"must be a list like '- {{select: head, scale: 10}}', not {kind_of(value)}"
        )
    out = []
    for i, item in enumerate(value):
        where = f"optimizer.lr_scale[{i}]"
        spec = check_keys(doc, where, item, ("select", "scale"))
        if set(spec) != {"select", "scale"}:
            raise doc.error(where, "give both 'select' (a selector) and 'scale' (a number)")
        (select,) = _selectors(doc, f"{where}.select", spec["select"])
        out.append(LrScale(select, _number(doc, f"{where}.scale", spec["scale"], 0, math.inf)))
    return tuple(out)


def _parse_stages(doc: Doc, value: Any) -> tuple[Stage, ...]:
    if not isinstance(value, list) or not value:
        raise doc.error(
            "stages", f"must be a non-empty list like '- {{at: 0, unfreeze: [head]}}', not {kind_of(value)}"
        )
    if len(value) > MAX_STAGES:
        raise doc.error("stages", f"{len(value):,} stages is over the limit of {MAX_STAGES:,}")
    stages: list[Stage] = []
    for i, item in enumerate(value):
        stage = _parse_stage(doc, i, item)
        if stages and stage.at <= stages[-1].at:
            raise doc.error(
                f"stages[{i}].at",
                f"{stage.at} does not come after the previous stage's {stages[-1].at}: stages go forward",
            )
        stages.append(stage)
    return tuple(stages)


def _parse_stage(doc: Doc, i: int, item: Any) -> Stage:
    where = f"stages[{i}]"
    spec = check_keys(doc, where, item, STAGE_KEYS)
    at = spec.get("at")
    if isinstance(at, bool) or not isinstance(at, int) or at < 0:
        raise doc.error(f"{where}.at", f"must be a whole number, 0 or more (an epoch or a step), not {quoted(at)}")
    if "freeze" not in spec and "unfreeze" not in spec:
        raise doc.error(where, "a stage needs 'freeze' or 'unfreeze' (a selector or a list of them)")
    rules = tuple(
        Rule(action, pattern, f"{where}.{action}")
        for action in ("freeze", "unfreeze")
        if action in spec
        for pattern in _selectors(doc, f"{where}.{action}", spec[action])
    )
    lr_scale = _number(doc, f"{where}.lr_scale", spec.get("lr_scale", 1.0), 0, math.inf)
    refreeze = spec.get("refreeze", False)
    if not isinstance(refreeze, bool):
        raise doc.error(f"{where}.refreeze", f"must be true or false, not {quoted(refreeze)}")
    return Stage(i, at, rules, lr_scale, refreeze)
