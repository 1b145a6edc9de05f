"""The road from settings to a report: source -> inventory -> plan -> totals -> report.

This module decides nothing about presentation and imports no torch itself: each source
kind's module (sources/) builds or reads the model, through the adapter where torch is needed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, ContextManager

from ..core.batchnorm_policy import BatchNormPolicy, effective, norm_rows
from ..core.expectations import check
from ..core.plan import Plan, make_plan
from ..core.records import Inventory
from ..core.report import Command, Report
from ..core.stages import StageRow
from ..core.totals import compute_totals
from ..sources.registry import source_type
from ..sources.spec import Loaded
from .settings import Settings

if TYPE_CHECKING:
    from torch import nn


Progress = Callable[[str], ContextManager[None]]  # a spinner around slow steps, supplied by the caller


def quiet(message: str) -> ContextManager[None]:
    return contextlib.nullcontext()


@dataclass(frozen=True)
class Audit:
    """One pass down the road: what was loaded, the plan, and the report."""

    loaded: Loaded
    plan: Plan
    report: Report
    stages: tuple[StageRow, ...] = ()  # freeze --stages: what each stage of the schedule leaves trainable


def audit(command: Command, settings: Settings, progress: Progress = quiet) -> Audit:
    with progress(f"Loading {settings.source.text}"):
        loaded = load(settings)
    plan = plan_for(loaded.inventory, settings)
    return Audit(loaded, plan, build_report(command, loaded, plan, settings))


def load(settings: Settings) -> Loaded:
    """Build or read the model the settings name and take its inventory (from the cache when allowed)."""
    source, materialize = settings.source, settings.materialize
    key, doubt = None, None
    if settings.use_cache and not materialize:
        from ..sources import inventory_cache

        key = inventory_cache.cache_key(source)
        cached, doubt = inventory_cache.lookup(key) if key else (None, None)
        if cached is not None:
            return Loaded(cached)  # the warm path: torch is never imported
    from .stdout_guard import stdout_to_stderr

    with stdout_to_stderr():  # a factory that prints must not corrupt the report on stdout
        loaded = source_type(source.kind).load(source, materialize)
    if key:
        inventory_cache.put(key, loaded.inventory)
    if doubt:  # a cache someone else could write was not read: say so once
        inventory = loaded.inventory
        loaded = replace(loaded, inventory=replace(inventory, notes=(*inventory.notes, doubt)))
    return loaded


def plan_for(
    inventory: Inventory, settings: Settings, lenient_hint: str = "use --allow-unmatched to make this a warning"
) -> Plan:
    """`lenient_hint`: how the caller's user makes a rule that selects nothing a warning."""
    return make_plan(inventory, settings.rules, settings.default, not settings.allow_unmatched, lenient_hint)


def build_report(command: Command, loaded: Loaded, plan: Plan, settings: Settings) -> Report:
    inventory = loaded.inventory
    totals = compute_totals(plan, inventory)
    norms, norm_warnings = norm_rows(inventory, plan, effective(settings.batchnorm))
    model = settings.source.info()
    if inventory.built_class and "hf_class" not in model.hub:  # what AutoModel chose: --hf-class rebuilds it
        model = replace(model, hub={**model.hub, "hf_class": inventory.built_class})
    return Report(
        command=command,
        model=model,
        plan=plan,
        totals=totals,
        buffers=inventory.buffers,
        expectations=check(settings.expect, totals),
        norms=norms,
        batchnorm=settings.batchnorm,
        warnings=inventory.notes + plan.warnings + norm_warnings,
    )


def apply_to_model(model: "nn.Module", plan: Plan, policy: BatchNormPolicy | None = None) -> None:
    """Set requires_grad as the plan says; then, when a policy is given, apply it to the BatchNorm layers."""
    from ..adapter.inventory import apply_plan

    apply_plan(model, plan)
    if policy is not None:
        from ..adapter.batchnorm import apply_policy

        apply_policy(model, policy)
