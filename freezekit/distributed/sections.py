"""What `count --shard-by/--fsdp-flat/--memory-plan` adds to the report, as data. Pure: no torch."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.plan import Plan
from ..core.records import Inventory
from ..errors import UsageError, VerifyError
from .memory_plan import MemoryPlan, check_plan_options, memory_plan
from .units import UnitReport, fsdp_units, mixed_units_message


@dataclass(frozen=True)
class PlanOptions:
    strategy: str = "ddp"
    world_size: int = 1
    optimizer: str = "adamw"
    param_dtype: str | None = None


@dataclass(frozen=True)
class CountSections:
    units: UnitReport | None = None
    memory: MemoryPlan | None = None


def parse_types(text: str, option: str = "--shard-by") -> tuple[str, ...]:
    types = tuple(t.strip() for t in text.split(","))
    if not types or any(not t.isidentifier() for t in types):
        raise UsageError(f"{option} {text}: expected module class names separated by commas, "
                         "like TransformerEncoderLayer,LlamaDecoderLayer")
    return types


def check_count_options(shard_by: str | None, fsdp_flat: bool, plan: PlanOptions | None) -> tuple[str, ...] | None:
    """Fail on bad option values before any model is built; returns the parsed --shard-by."""
    if plan is not None:
        check_plan_options(plan.strategy, plan.world_size, plan.optimizer, plan.param_dtype)
    return parse_types(shard_by) if shard_by is not None else None


def count_sections(inventory: Inventory | None, plan: Plan, shard_by: tuple[str, ...] | None, fsdp_flat: bool,
                   plan_options: PlanOptions | None) -> CountSections:
    """`inventory` is needed for the units only (see `flat_error` for --fsdp-flat)."""
    units = None
    if inventory is not None and (shard_by is not None or fsdp_flat):
        units = fsdp_units(inventory, plan, shard_by)
    memory = None
    if plan_options is not None:
        memory = memory_plan(plan.decisions, plan_options.strategy, plan_options.world_size, plan_options.optimizer,
                             plan_options.param_dtype)
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
