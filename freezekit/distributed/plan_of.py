"""The memory plan of any `--strategy`: the formulas and DeepSpeed's ZeRO-1/2 presets (memory_plan.py, their
engine buffers from deepspeed_plan.py), DeepSpeed ZeRO-3 (deepspeed_plan.py), PyTorch's engines (engine_torch.py). Pure: no torch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from ..core.plan import Decision
from .deepspeed_plan import zero3_plan, zero12_phases
from .engine_torch import TORCH_ENGINES, engine_plan
from .memory_plan import DEEPSPEED, MemoryPlan, PlanOptions, Strategy, memory_plan


def plan_of(
    decisions: Iterable[Decision],
    options: PlanOptions,
    without_gradient: frozenset[str] = frozenset(),
    activations: int | None = None,
    unit_of: Mapping[str, str] | None = None,
) -> MemoryPlan:
    """The plan per rank (memory_plan.memory_plan says what `without_gradient` means); `unit_of`
    (units.unit_map) places each parameter in its FSDP unit for torch-fsdp2 (None: all in the root)."""
    if options.strategy in TORCH_ENGINES:
        return engine_plan(decisions, options, unit_of, without_gradient, activations)
    if options.strategy is Strategy.DEEPSPEED_ZERO3:  # allocates for every trainable parameter, used or not
        return zero3_plan(decisions, options, activations)
    decisions = list(decisions)
    plan = memory_plan(decisions, options, without_gradient, activations)
    if options.strategy in DEEPSPEED:  # its model states are the formula's; its buffers are its own
        return replace(plan, buffers=zero12_phases(decisions, options, without_gradient).buffers)
    return plan
