"""What `count --shard-by/--fsdp-flat/--memory-plan` adds to the report, as data. Pure: no torch."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.plan import Plan
from ..core.records import Inventory
from ..errors import RuleError, VerifyError
from .memory_plan import MemoryPlan, PlanOptions, Strategy
from .plan_of import plan_of
from .units import UnitReport, fsdp_units, mixed_units_message, unit_map


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
    """`inventory` is needed for the units only (the listed ones, and torch-fsdp2's; see `flat_error`
    for --fsdp-flat)."""
    units = None
    if inventory is not None and (shard_by is not None or fsdp_flat):
        units = fsdp_units(inventory, plan, shard_by)
    memory = None
    if plan_options is not None:
        memory = plan_per_rank(inventory, plan, plan_options, shard_by, activations)
    return CountSections(units, memory)


def plan_per_rank(
    inventory: Inventory | None,
    plan: Plan,
    options: PlanOptions,
    shard_by: tuple[str, ...] | None = None,
    activations: int | None = None,
) -> MemoryPlan:
    """The memory plan of `plan` (count --memory-plan, and each stage of count --stages);
    `inventory` gives torch-fsdp2 its units."""
    unit_of = None
    if options.strategy is Strategy.TORCH_FSDP2:  # its transient is the units unsharded
        unit_of = unit_map(_with_modules(inventory), plan, shard_by)
    return plan_of(plan.decisions, options, activations=activations, unit_of=unit_of)


def _with_modules(inventory: Inventory | None) -> Inventory:
    if inventory is None or not inventory.has_modules:
        raise RuleError(
            "--strategy torch-fsdp2 needs the model's modules for its FSDP units, and a checkpoint file has "
            "none; name the model, or plan the plain --strategy fsdp"
        )
    return inventory


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
