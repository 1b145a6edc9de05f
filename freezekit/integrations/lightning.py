"""Lightning: `FreezeCallback(config)` freezes at the right moment, runs the schedule and guards the frozen part.

- `setup` (before `configure_optimizers`): the config's rules, its BatchNorm policy and the stage
  `at: 0` are applied to the LightningModule; the frozen tensors are snapshotted.
- `callback.param_groups(module, lr=...)` gives `configure_optimizers` the groups of the config's
  `optimizer:` section (trainable parameters only).
- each epoch (or step, `unit: step`) start: the stages reached are applied to the first optimizer,
  and `trainable_params` / `frozen_params` go to every logger of the trainer.
- after each backward pass: a frozen parameter with a gradient is noted; at the end of fit the
  frozen tensors must be bit-identical to their values at the start and gradient-free, else
  VerifyError names them (`on_violation="warn"` warns). `manifest=PATH` writes the manifest
  (with the config's `training` sections) at the end of fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lightning.pytorch.callbacks import Callback

from ..training.param_groups import param_groups
from ..training.session import TrainingSession

if TYPE_CHECKING:
    import os

    import lightning.pytorch as pl
    from torch import nn


class FreezeCallback(Callback):
    def __init__(self, config: Any, *, on_violation: str = "raise", manifest: "str | os.PathLike | None" = None):
        self.session = TrainingSession(config, on_violation, manifest)
        self.changes: list[dict[str, Any]] = []  # every stage applied, as logged

    def param_groups(self, module: "nn.Module", lr: float | None = None) -> list[dict[str, Any]]:
        """For `configure_optimizers`: the groups of the config's `optimizer:` section."""
        return param_groups(module, self.session.source, lr=lr)

    def setup(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule", stage: str) -> None:
        if stage == "fit" and not self.session.prepared:
            self.session.prepare(pl_module)

    def _advance(self, trainer: "pl.Trainer", now: int) -> None:
        optimizer = trainer.optimizers[0] if trainer.optimizers else None
        configs = trainer.lr_scheduler_configs
        for change in self.session.advance(now, optimizer, configs[0].scheduler if configs else None):
            self.changes.append(change.as_dict())
        for logger in trainer.loggers:
            logger.log_metrics({k: float(v) for k, v in self.session.metrics().items()}, step=trainer.global_step)

    def on_train_epoch_start(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        if self.session.unit == "epoch":
            self._advance(trainer, trainer.current_epoch)

    def on_train_batch_start(
        self, trainer: "pl.Trainer", pl_module: "pl.LightningModule", batch: Any, batch_idx: int
    ) -> None:
        if self.session.unit == "step":
            self._advance(trainer, trainer.global_step)

    def on_after_backward(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        self.session.check_grads()

    def on_fit_end(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        self.session.finish()
