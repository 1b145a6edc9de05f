"""Expectations a pipeline can fail on: exact counts and a ceiling on the trainable share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

from ..errors import ExpectationError
from .totals import Totals


@dataclass(frozen=True)
class Expectations:
    trainable: int | None = None
    frozen: int | None = None
    total: int | None = None
    max_trainable_pct: float | None = None

    def merged_with(self, override: "Expectations") -> "Expectations":
        """Command-line values win over the config's."""
        changes = {f.name: getattr(override, f.name) for f in fields(self) if getattr(override, f.name) is not None}
        return replace(self, **changes)


@dataclass(frozen=True)
class ExpectationResult:
    name: str  # "trainable", "frozen", "total", "max_trainable_pct"
    expected: float
    actual: float
    ok: bool

    def describe(self) -> str:
        if self.name == "max_trainable_pct":
            return f"trainable share {self.actual:.4f}% exceeds the maximum {self.expected:g}%"
        return f"expected {self.name} {self.expected:,} but the plan gives {self.actual:,}"


def check(expect: Expectations, totals: Totals) -> tuple[ExpectationResult, ...]:
    results = []
    for name in ("trainable", "frozen", "total"):
        want = getattr(expect, name)
        if want is not None:
            got = getattr(totals, name)
            results.append(ExpectationResult(name, want, got, want == got))
    if expect.max_trainable_pct is not None:
        pct = totals.trainable_pct
        results.append(
            ExpectationResult("max_trainable_pct", expect.max_trainable_pct, pct, pct <= expect.max_trainable_pct)
        )
    return tuple(results)


def expectation_error(failed: Sequence[ExpectationResult]) -> ExpectationError:
    """The one message for unmet expectations, from the CLI (exit 9) and from the API alike."""
    return ExpectationError("; ".join(e.describe() for e in failed))
