"""The report: everything a command found, as data. Renderers turn it into text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .batchnorm_policy import BatchNormPolicy, NormRow, effective
from .choice import Choice
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
    hub: dict[str, str] = field(default_factory=dict)  # hf: options that identify the model (hf_class, revision, base)

    def as_dict(self) -> dict[str, Any]:
        """For JSON reports and manifests: `hub` only when set, so other models' entries stay as they were."""
        d: dict[str, Any] = {
            "source": self.source,
            "kind": self.kind,
            "weights": self.weights,
            "weights_file": self.weights_file,
            "args": dict(self.args),
        }
        if self.hub:
            d["hub"] = dict(self.hub)
        return d


class Command(Choice):
    """The command a report answers (recorded in JSON as "command")."""

    FREEZE = "freeze"
    COUNT = "count"
    CHECK = "check"


@dataclass(frozen=True)
class Report:
    command: Command
    model: ModelInfo
    plan: Plan
    totals: Totals
    buffers: tuple[BufferRecord, ...] = ()
    expectations: tuple[ExpectationResult, ...] = ()
    norms: tuple[NormRow, ...] = ()
    batchnorm: BatchNormPolicy | None = None  # as chosen; None: the default applies
    warnings: tuple[str, ...] = ()
    batchnorm_details: bool = False  # one row per norm layer rather than one per group (table, Markdown)

    @property
    def batchnorm_policy(self) -> BatchNormPolicy:
        return effective(self.batchnorm)

    @property
    def failed_expectations(self) -> tuple[ExpectationResult, ...]:
        return tuple(e for e in self.expectations if not e.ok)
