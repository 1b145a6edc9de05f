"""Which FSDP unit holds which parameter, found from the inventory alone (pure: no torch).

FSDP wraps each module whose type is in `--shard-by`, then the root; a parameter belongs to the
innermost wrapped module that contains it, else to the root unit. FSDP1 with
`use_orig_params=False` flattens each unit into one FlatParameter, which needs one requires_grad
for the whole unit: a unit mixing frozen and trainable parameters is refused there.

Default unit types: a transformers model (or a PEFT model on one) that names `_no_split_modules` gets
those classes, as PEFT's and accelerate's auto-wrap policies do (a LoRA model's repeated blocks would
otherwise be its lora_A/lora_B Linear pairs); any other model its repeated blocks (core/blocks.py says
how they are found).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.blocks import repeated_block_types, within
from ..core.plan import Plan
from ..core.records import Inventory, ModuleRecord
from ..core.suggest import did_you_mean
from ..errors import NoMatchError, RuleError


@dataclass(frozen=True)
class Unit:
    name: str  # "" for the root unit
    type: str
    frozen_tensors: int
    trainable_tensors: int
    frozen: int  # elements
    trainable: int

    @property
    def mixed(self) -> bool:
        return bool(self.frozen_tensors and self.trainable_tensors)

    @property
    def label(self) -> str:
        return self.name or "(root)"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "frozen_tensors": self.frozen_tensors,
            "trainable_tensors": self.trainable_tensors,
            "frozen": self.frozen,
            "trainable": self.trainable,
            "mixed": self.mixed,
        }


@dataclass(frozen=True)
class UnitReport:
    shard_by: tuple[str, ...]
    how: str  # "--shard-by" or "repeated blocks"
    units: tuple[Unit, ...]  # in wrapping order: the blocks in registration order, the root last

    @property
    def mixed(self) -> tuple[Unit, ...]:
        return tuple(u for u in self.units if u.mixed)


def default_unit_types(inventory: Inventory) -> tuple[tuple[str, ...], str]:
    """The model's _no_split_modules that it holds, else its repeated blocks; and which it was."""
    no_split = tuple(t for t in inventory.no_split if any(m.is_a(t) for m in inventory.modules))
    if no_split:
        return no_split, "_no_split_modules"
    return repeated_block_types(inventory), "repeated blocks"


def _unit_roots(inventory: Inventory, shard_by: tuple[str, ...]) -> list[ModuleRecord]:
    return [m for m in inventory.modules if m.name and any(m.is_a(t) for t in shard_by)]


def _unit_of(owner: str, unit_names: list[str]) -> str:
    return max((n for n in unit_names if within(owner, n)), key=len, default="")


def check_shard_by(inventory: Inventory, shard_by: tuple[str, ...] | None) -> None:
    if not inventory.has_modules:  # a checkpoint: no tree, so no units (the whole file is not one unit)
        flag = "--shard-by" if shard_by is not None else "--fsdp-flat"
        raise RuleError(f"{flag} needs module types, and a checkpoint file has none; name the model instead")
    if shard_by is None:
        return
    types = sorted({t for m in inventory.modules for t in (m.type, *m.bases)})
    for t in shard_by:
        if not any(m.is_a(t) for m in inventory.modules):
            raise NoMatchError(f"--shard-by {t}: no module of type {t} in this model{did_you_mean(t, types)}")


def fsdp_units(inventory: Inventory, plan: Plan, shard_by: tuple[str, ...] | None) -> UnitReport:
    """The units FSDP would build; `shard_by` None picks the repeated blocks."""
    check_shard_by(inventory, shard_by)
    how = "--shard-by"
    if shard_by is None:
        shard_by, how = default_unit_types(inventory)
    roots = _unit_roots(inventory, shard_by)
    names = [m.name for m in roots]
    counts: dict[str, list[int]] = {n: [0, 0, 0, 0] for n in [*names, ""]}
    for d in plan.decisions:
        c = counts[_unit_of(d.param.module, names)]
        if d.trainable:
            c[1] += 1
            c[3] += d.param.numel
        else:
            c[0] += 1
            c[2] += d.param.numel
    root_type = next((m.type for m in inventory.modules if not m.name), "")
    units = [Unit(m.name, m.type, *counts[m.name]) for m in roots]
    units.append(Unit("", root_type, *counts[""]))
    return UnitReport(tuple(shard_by), how, tuple(units))


def unit_map(inventory: Inventory, plan: Plan, shard_by: tuple[str, ...] | None) -> dict[str, str]:
    """Each parameter's unit (the name of its innermost unit, "" for the root), for the units
    `fsdp_units` lists."""
    check_shard_by(inventory, shard_by)
    names = [m.name for m in _unit_roots(inventory, shard_by or default_unit_types(inventory)[0])]
    return {d.param.name: _unit_of(d.param.module, names) for d in plan.decisions}


def uniform_fix(inventory: Inventory, plan: Plan, report: UnitReport, unit: Unit) -> str:
    """A rule that makes `unit` uniform: more --shard-by types when that separates the minority's
    modules into uniform units, else freezing or training the whole unit."""
    minority_trainable = unit.trainable_tensors <= unit.frozen_tensors
    names = [u.name for u in report.units if u.name]
    owners = {
        d.param.module
        for d in plan.decisions
        if d.trainable == minority_trainable and _unit_of(d.param.module, names) == unit.name
    }
    types = {m.name: m.type for m in inventory.modules}
    extra = tuple(dict.fromkeys(types[o] for o in owners if o and o != unit.name and o in types))
    if extra:
        again = fsdp_units(inventory, plan, report.shard_by + extra)
        if not any(_unit_of(u.name, names) == unit.name for u in again.mixed):  # the units carved out of it
            return f"--shard-by {','.join(report.shard_by + extra)}"
    if not unit.name:
        return "FSDP2 (fully_shard) or use_orig_params=True, which accept mixed units"
    keep = "-p" if unit.frozen_tensors >= unit.trainable_tensors else "-u"
    other = "-u" if keep == "-p" else "-p"
    return f"{keep} '{unit.name}' (or {other} '{unit.name}')"


def mixed_units_message(inventory: Inventory, plan: Plan, report: UnitReport) -> str:
    parts = [
        f"{u.label} ({u.type}: {u.frozen_tensors} frozen, {u.trainable_tensors} trainable tensors; "
        f"fix: {uniform_fix(inventory, plan, report, u)})"
        for u in report.mixed
    ]
    many = len(parts) != 1
    return (
        f"--fsdp-flat: {len(parts)} FSDP unit{'s' if many else ''} mix{'' if many else 'es'} frozen and trainable "
        f"parameters, which FSDP1 with use_orig_params=False refuses (FlatParameter requires uniform "
        f"requires_grad): " + "; ".join(parts)
    )
