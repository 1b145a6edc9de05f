"""The road from settings to a report: source -> inventory -> plan -> totals -> report.

This module decides nothing about presentation and imports no torch itself: each source
kind's module (sources/) builds or reads the model, through the adapter where torch is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.batchnorm_policy import BatchNormPolicy, effective, norm_rows
from ..core.expectations import check
from ..core.plan import Plan, make_plan
from ..core.records import Inventory
from ..core.report import Report
from ..core.totals import compute_totals
from ..sources.registry import source_type
from ..sources.spec import Loaded
from .settings import Settings

if TYPE_CHECKING:
    from torch import nn


def load(settings: Settings) -> Loaded:
    """Build or read the model the settings name and take its inventory (from the cache when allowed)."""
    source = settings.source
    key = None
    if settings.use_cache and not settings.materialize:
        from ..sources import inventory_cache

        key = inventory_cache.cache_key(source)
        cached = inventory_cache.get(key) if key else None
        if cached is not None:
            return Loaded(cached)  # the warm path: torch is never imported
    from ..stdio import stdout_to_stderr

    with stdout_to_stderr():  # a factory that prints must not corrupt the report on stdout
        loaded = source_type(source.kind).load(source, settings.materialize)
    if key:
        inventory_cache.put(key, loaded.inventory)
    return loaded


def plan_for(inventory: Inventory, settings: Settings) -> Plan:
    return make_plan(inventory, settings.rules, settings.default, settings.strict)


def build_report(command: str, loaded: Loaded, plan: Plan, settings: Settings) -> Report:
    inventory = loaded.inventory
    totals = compute_totals(plan, inventory)
    norms, norm_warnings = norm_rows(inventory, plan, effective(settings.batchnorm))
    return Report(
        command=command,
        model=settings.model_info(),
        plan=plan,
        totals=totals,
        buffers=inventory.buffers,
        expectations=check(settings.expect, totals),
        norms=norms,
        batchnorm=settings.batchnorm,
        warnings=plan.warnings + norm_warnings,
    )


def apply_to_model(model: "nn.Module", plan: Plan, policy: BatchNormPolicy | None = None) -> None:
    """Set requires_grad as the plan says; then, when a policy is given, apply it to the BatchNorm layers."""
    from ..adapter.inventory import apply_plan

    apply_plan(model, plan)
    if policy is not None:
        from ..adapter.batchnorm import apply_policy

        apply_policy(model, policy)
