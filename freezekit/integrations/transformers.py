"""The Hugging Face Trainer: `FreezeCallback(config)` runs the schedule, logs the counts and guards the frozen part.

The Trainer builds its optimizer (from the parameters that are trainable then) before any callback
runs, so freeze first, then build the Trainer:

    callback = FreezeCallback("configs/llama-lora.yaml")
    model = callback.prepare(model)          # or freezekit.freeze(model, config): the same rules
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[callback])

- `on_train_begin`: prepares the model if that was not done (and refuses to go on when the
  optimizer already holds parameters the rules freeze: the order above was not followed);
- each epoch (or step, `unit: step`) start: the stages reached are applied to the Trainer's
  optimizer (new groups at its lr x the stage's lr_scale, then scaled by its lr scheduler like the others);
- `trainable_params` / `frozen_params` join every log (`state.log_history`, the reporters);
- before each optimizer step a frozen parameter with a gradient is noted; at the end of training the
  frozen tensors must be bit-identical and gradient-free, else VerifyError names them
  (`on_violation="warn"` warns). `manifest=PATH` writes the manifest at the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from ..core.name_lists import first_names
from ..errors import UsageError
from ..training.session import TrainingSession

if TYPE_CHECKING:
    import os

    from torch import nn


class FreezeCallback(TrainerCallback):
    def __init__(self, config: Any, *, on_violation: str = "raise", manifest: "str | os.PathLike | None" = None):
        self.session = TrainingSession(config, on_violation, manifest)
        self.changes: list[dict[str, Any]] = []

    def prepare(self, model: "nn.Module") -> "nn.Module":
        """Apply the rules, the BatchNorm policy and the stage `at: 0`; call it before building the Trainer."""
        self.session.prepare(model)
        return model

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):  # noqa: ANN001
        if self.session.prepared:
            return
        self.session.prepare(model)
        held = {id(p) for g in optimizer.param_groups for p in g["params"]} if optimizer is not None else set()
        stale = [n for n, p in model.named_parameters() if not p.requires_grad and id(p) in held]
        if stale:
            raise UsageError(
                f"the Trainer's optimizer holds {len(stale)} parameter(s) the rules freeze ({first_names(stale)}): "
                "call FreezeCallback.prepare(model) (or freezekit.freeze) before building the Trainer"
            )

    def _advance(self, now: int, optimizer: Any, lr_scheduler: Any) -> None:
        self.changes += [c.as_dict() for c in self.session.advance(now, optimizer, lr_scheduler)]

    def on_epoch_begin(self, args, state, control, optimizer=None, lr_scheduler=None, **kwargs):  # noqa: ANN001
        if self.session.unit == "epoch":
            self._advance(int(state.epoch or 0), optimizer, lr_scheduler)

    def on_step_begin(self, args, state, control, optimizer=None, lr_scheduler=None, **kwargs):  # noqa: ANN001
        if self.session.unit == "step":
            self._advance(state.global_step, optimizer, lr_scheduler)

    def on_pre_optimizer_step(self, args, state, control, **kwargs):  # noqa: ANN001
        self.session.check_grads()

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        if logs is not None and self.session.prepared:
            metrics = self.session.metrics()
            logs.update(metrics)  # for the reporters
            if state.log_history and state.log_history[-1].get("step") == state.global_step:
                state.log_history[-1].update(metrics)  # the Trainer recorded its copy before calling us

    def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
        self.session.finish()
