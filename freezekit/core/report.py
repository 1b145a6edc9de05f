"""The report: everything a command found, as data. Renderers turn it into text."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .expectations import ExpectationResult
from .plan import Decision, Plan
from .records import BufferRecord
from .totals import ModuleRow, Totals

ONLY = ("frozen", "trainable")


@dataclass(frozen=True)
class ModelInfo:
    source: str
    kind: str
    weights: str | None = None
    weights_file: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NormRow:
    """One normalisation layer and what training will do to it (filled by the BatchNorm policy)."""

    name: str
    type: str
    affine_trainable: bool | None  # None: the layer has no affine parameters
    stats_update: bool  # running statistics change during a train() forward pass
    note: str = ""


@dataclass(frozen=True)
class Report:
    command: str  # "freeze", "count", ...
    view: str  # one of VIEWS
    model: ModelInfo
    plan: Plan
    totals: Totals
    buffers: tuple[BufferRecord, ...] = ()
    modules: tuple[ModuleRow, ...] | None = None  # the --depth view
    depth: int | None = None
    only: str | None = None
    expectations: tuple[ExpectationResult, ...] = ()
    norms: tuple[NormRow, ...] = ()
    batchnorm: str | None = None
    warnings: tuple[str, ...] = ()

    def shown_decisions(self) -> tuple[Decision, ...]:
        if self.only is None:
            return self.plan.decisions
        want = self.only == "trainable"
        return tuple(d for d in self.plan.decisions if d.trainable == want)

    def shown_modules(self) -> tuple[ModuleRow, ...]:
        rows = self.modules or ()
        if self.only == "trainable":
            return tuple(r for r in rows if r.trainable)
        if self.only == "frozen":
            return tuple(r for r in rows if r.frozen)
        return rows

    @property
    def failed_expectations(self) -> tuple[ExpectationResult, ...]:
        return tuple(e for e in self.expectations if not e.ok)
