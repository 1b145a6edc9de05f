"""What `count --shard-by/--fsdp-flat/--memory-plan` adds to the report, as data. Pure: no torch."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.plan import Plan
from ..core.records import Inventory
from ..errors import VerifyError
from .memory_plan import MemoryPlan, PlanOptions, memory_plan
from .units import UnitReport, fsdp_units, mixed_units_message


@dataclass(frozen=True)
class CountSections:
    units: UnitReport | None = None
    memory: MemoryPlan | None = None


def count_sections(
    inventory: Inventory | None,
    plan: Plan,
    shard_by: tuple[str, ...] | None,
    fsdp_flat: bool,
    plan_options: PlanOptions | None,
    activations: int | None = None,
) -> CountSections:
    """`inventory` is needed for the units only (see `flat_error` for --fsdp-flat)."""
    units = None
    if inventory is not None and (shard_by is not None or fsdp_flat):
        units = fsdp_units(inventory, plan, shard_by)
    memory = None
    if plan_options is not None:
        memory = memory_plan(plan.decisions, plan_options, activations=activations)
    return CountSections(units, memory)


def flat_error(inventory: Inventory, plan: Plan, sections: CountSections) -> VerifyError | None:
    """Under --fsdp-flat (FSDP1, use_orig_params=False) a unit mixing frozen and trainable
    parameters is refused by FSDP: the error (exit 10) names the units and a fix, else None."""
    units = sections.units
    if units is None or not units.mixed:
        return None
    return VerifyError(mixed_units_message(inventory, plan, units))


def sections_dict(sections: CountSections) -> dict:
    out: dict = {}
    if sections.units is not None:
        out["unit_types"] = {"types": list(sections.units.shard_by), "how": sections.units.how}
        out["units"] = [u.to_dict() for u in sections.units.units]
    if sections.memory is not None:
        out["memory_plan"] = sections.memory.to_dict()
    return out
