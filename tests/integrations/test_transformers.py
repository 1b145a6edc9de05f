"""A real Hugging Face Trainer on a tiny Llama, on CPU: the schedule by step, the counts in the logs, the guard."""

from __future__ import annotations

import pytest
import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from freezekit.errors import UsageError, VerifyError
from freezekit.integrations.transformers import FreezeCallback
from tests.training.training_models import tiny_llama

CONFIG = {
    "optimizer": {
        "weight_decay": 0.1
    },  # the groups a stage adds split decay / no decay (norm weights) as the Trainer's
    "rules": [{"freeze": ["model.embed_tokens", "model.layers"]}],
    "stages": [{"at": 2, "unfreeze": "model.layers.1", "lr_scale": 0.5}],
    "unit": "step",
}


def _data():
    torch.manual_seed(0)
    ids = torch.randint(0, 64, (8, 6))
    return [{"input_ids": row, "labels": row} for row in ids]


def _args(tmp_path):
    return TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=4,
        per_device_train_batch_size=2,
        learning_rate=0.01,
        weight_decay=0.1,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )


class LearningRates(TrainerCallback):
    def __init__(self):
        self.seen = []

    def on_step_end(self, args, state, control, optimizer=None, **kwargs):
        self.seen.append([g["lr"] for g in optimizer.param_groups])


class Inject(TrainerCallback):
    def on_step_begin(self, args, state, control, model=None, **kwargs):
        if state.global_step == 1:
            model.model.embed_tokens.requires_grad_(True)  # a bug: the frozen embedding starts training


def test_trainer_runs_the_schedule_and_logs_the_counts(tmp_path):
    model = tiny_llama()
    callback = FreezeCallback(CONFIG)
    callback.prepare(model)
    embed = model.model.embed_tokens.weight.clone()
    lrs = LearningRates()
    trainer = Trainer(model=model, args=_args(tmp_path), train_dataset=_data(), callbacks=[callback, lrs])
    trainer.train()
    counts = [(h["step"], h["trainable_params"], h["frozen_params"]) for h in trainer.state.log_history if "loss" in h]
    assert counts == [(1, 1040, 5696), (2, 1040, 5696), (3, 3376, 3360), (4, 3376, 3360)]
    assert callback.changes == [
        {
            "stage": 0,
            "at": 2,
            "unfrozen_tensors": 9,
            "unfrozen_numel": 2336,
            "frozen_tensors": 0,
            "groups_added": 2,
            "trainable_params": 3376,
            "frozen_params": 3360,
        }
    ]
    groups = trainer.optimizer.param_groups
    assert [(g["initial_lr"], g["weight_decay"], len(g["params"])) for g in groups] == [
        (0.01, 0.1, 1),
        (0.01, 0.0, 1),
        (0.005, 0.1, 7),
        (0.005, 0.0, 2),
    ]  # lm_head, norm; layers.1
    assert lrs.seen[2] == [0.0025, 0.0025, 0.00125, 0.00125]  # the linear decay scales the new groups too
    assert torch.equal(model.model.embed_tokens.weight, embed)


def test_an_injected_violation_fails_training_with_the_names(tmp_path):
    model = tiny_llama()
    callback = FreezeCallback(CONFIG)
    callback.prepare(model)
    every = torch.optim.SGD(model.parameters(), lr=0.1)  # the optimizer holds every parameter
    trainer = Trainer(
        model=model,
        args=_args(tmp_path),
        train_dataset=_data(),
        callbacks=[callback, Inject()],
        optimizers=(every, None),
    )
    with pytest.raises(VerifyError, match=r"1 moved \(model.embed_tokens.weight\); 1 set trainable"):
        trainer.train()


def test_building_the_trainer_before_freezing_is_refused(tmp_path):
    model = tiny_llama()
    trainer = Trainer(
        model=model,
        args=_args(tmp_path),
        train_dataset=_data(),
        callbacks=[FreezeCallback(CONFIG)],
        optimizers=(torch.optim.SGD(model.parameters(), lr=0.1), None),
    )
    with pytest.raises(
        UsageError,
        match=r"the Trainer's optimizer holds 19 parameter\(s\) the rules freeze .*call "
        r"FreezeCallback.prepare\(model\)",
    ):
        trainer.train()
