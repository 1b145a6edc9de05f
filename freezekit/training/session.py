"""What the trainer callbacks share: the rules and the BatchNorm policy, the schedule, the metrics to
log, the guard over the frozen tensors, and the manifest written at the end of fit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.config import config_of
from ..errors import UsageError
from .guard import Guard
from .schedule import Schedule, StageChange

if TYPE_CHECKING:
    import os

    import torch
    from torch import nn


class TrainingSession:
    def __init__(self, config: Any, on_violation: str = "raise", manifest: "str | os.PathLike | None" = None):
        if on_violation not in ("raise", "warn"):
            raise UsageError(f"on_violation={on_violation!r}: choose 'raise' or 'warn'")
        self.config = config_of(config)
        self.source = config if isinstance(config, dict) else str(config)
        self.on_violation, self.manifest_path = on_violation, manifest
        self.model: "nn.Module | None" = None
        self.schedule: Schedule | None = None
        self.guard: Guard | None = None
        self.got_grad: set[str] = set()

    @property
    def unit(self) -> str:
        return self.config.training.unit.value

    def prepare(self, model: "nn.Module") -> None:
        """Apply the rules and the BatchNorm policy, then the stage `at: 0`; snapshot the frozen tensors."""
        from ..api import freeze

        freeze(model, self.source)
        self.schedule = Schedule(model, self.source) if self.config.training.stages else None
        self.model, self.guard = model, Guard(model, on_violation=self.on_violation)

    @property
    def prepared(self) -> bool:
        return self.model is not None

    def advance(
        self, now: int, optimizer: "torch.optim.Optimizer | None", lr_scheduler: Any = None
    ) -> list[StageChange]:
        """Apply the stages reached at `now` (an epoch or a step); the guard's reference follows them."""
        if self.schedule is None or self.guard is None:
            return []
        if not self.schedule.due(now):
            return []
        self.check_grads()  # the frozen part so far must be intact before the reference moves on
        self.guard.check(self.got_grad)
        changes = self.schedule.step(now, optimizer, lr_scheduler)
        self.guard.rebase()
        self.got_grad.clear()
        return changes

    def metrics(self) -> dict[str, int]:
        assert self.model is not None, "prepare(model) first"
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in self.model.parameters())
        return {"trainable_params": trainable, "frozen_params": total - trainable}

    def check_grads(self) -> None:
        """Cheap, after each backward pass: which frozen parameters carry a gradient (no digests)."""
        if self.guard is not None:
            self.got_grad.update(n for n, (p, _) in self.guard.frozen.items() if p.grad is not None)

    def finish(self) -> None:
        """At the end of fit: frozen tensors bit-identical and gradient-free, then the manifest if asked."""
        if self.guard is None or self.model is None:
            return
        self.check_grads()
        self.guard.check(self.got_grad)
        if self.manifest_path is not None:
            self.write_manifest()

    def write_manifest(self) -> None:
        import json

        from ..api import freeze
        from ..atomic_write import write_text

        assert self.model is not None
        report = freeze(self.model, default="keep", batchnorm=None)  # the frozen set as it is now
        manifest = {**report.manifest(), "training": self.config.training.as_dict()}
        write_text(str(self.manifest_path), json.dumps(manifest, indent=1) + "\n", True)
