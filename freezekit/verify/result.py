"""What `verify` found, as data: checks, step time, peak memory, and the all-trainable comparison."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    offenders: tuple[str, ...] = ()
    severity: str = "error"  # error | warning (a failed warning check fails only under --strict)


@dataclass(frozen=True)
class StepStats:
    step_ms: float  # median over the timed steps
    peak_mib: float  # CUDA: peak allocated; CPU: peak RSS growth over the warm-up and timed steps
    memory_measure: str
    trainable: int
    total: int


@dataclass(frozen=True)
class VerifyResult:
    model: str
    device: str
    dtype: str
    batch_size: int
    input_desc: str
    checks: tuple[Check, ...]
    frozen_run: StepStats
    all_trainable_run: StepStats | None = None
    warnings: tuple[str, ...] = ()  # the plan's (e.g. rules that matched nothing under --allow-unmatched)

    def failures(self, warnings_fail: bool) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok and (c.severity == "error" or warnings_fail))

    @property
    def speedup(self) -> float | None:
        b = self.all_trainable_run
        return b.step_ms / self.frozen_run.step_ms if b and self.frozen_run.step_ms else None

    @property
    def memory_ratio(self) -> float | None:
        b = self.all_trainable_run
        return self.frozen_run.peak_mib / b.peak_mib if b and b.peak_mib else None


def warned(checks: tuple[Check, ...], warnings_fail: bool) -> tuple[Check, ...]:
    """The warning checks printed as warnings, by verify and by verify --ddp/--fsdp alike: a
    warning that names offenders or failed, unless --strict (warnings_fail) made it a failure."""
    return tuple(
        c for c in checks if c.severity == "warning" and (c.offenders or not c.ok) and not (warnings_fail and not c.ok)
    )
