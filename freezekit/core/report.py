"""The report: everything a command found, as data. Renderers turn it into text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .batchnorm_policy import BatchNormPolicy, NormRow, effective
from .expectations import ExpectationResult
from .plan import Plan
from .records import BufferRecord
from .totals import Totals


@dataclass(frozen=True)
class ModelInfo:
    source: str
    kind: str
    weights: str | None = None
    weights_file: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    command: str  # "freeze", "count", "check"
    model: ModelInfo
    plan: Plan
    totals: Totals
    buffers: tuple[BufferRecord, ...] = ()
    expectations: tuple[ExpectationResult, ...] = ()
    norms: tuple[NormRow, ...] = ()
    batchnorm: BatchNormPolicy | None = None  # as chosen; None: the default applies
    warnings: tuple[str, ...] = ()

    @property
    def batchnorm_policy(self) -> BatchNormPolicy:
        return effective(self.batchnorm)

    @property
    def failed_expectations(self) -> tuple[ExpectationResult, ...]:
        return tuple(e for e in self.expectations if not e.ok)
