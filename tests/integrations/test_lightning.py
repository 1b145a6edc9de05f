"""A real Lightning Trainer.fit on CPU: a 3-stage schedule, metrics logged per epoch, the guard."""

from __future__ import annotations

import json

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import Logger
from torch.utils.data import DataLoader, TensorDataset

from freezekit.errors import VerifyError
from freezekit.integrations.lightning import FreezeCallback
from tests.training.training_models import TinyViT

CONFIG = {
    "optimizer": {"weight_decay": 0.05, "layer_decay": 0.5},
    "stages": [
        {"at": 0, "freeze": "*", "unfreeze": "net.head"},
        {"at": 1, "unfreeze": ["net.blocks.2", "net.norm"], "lr_scale": 0.1},
        {"at": 2, "unfreeze": "net.blocks.[01]", "lr_scale": 0.05},
    ],
}


class Module(LightningModule):
    def __init__(self, callback: FreezeCallback, inject: bool = False):
        super().__init__()
        self.net, self.callback, self.inject = TinyViT(), callback, inject

    def training_step(self, batch, batch_idx):
        if self.inject and self.current_epoch == 1:
            self.net.embed.requires_grad_(True)  # a bug: the frozen embedding starts training
        (x,) = batch
        return self.net(x).square().mean()

    def configure_optimizers(self):
        groups = self.callback.param_groups(self, lr=0.1)
        return torch.optim.SGD(groups if not self.inject else self.parameters(), lr=0.1)


class Recorder(Logger):
    name, version = "recorder", 0

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []

    def log_metrics(self, metrics, step=None):
        self.rows.append(dict(metrics))

    def log_hyperparams(self, params, *args, **kwargs):
        pass


def _fit(module, callback, logger):
    torch.manual_seed(0)
    data = DataLoader(TensorDataset(torch.randn(8, 6)), batch_size=4)
    trainer = Trainer(
        max_epochs=3,
        callbacks=[callback],
        logger=logger,
        accelerator="cpu",
        devices=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, data)
    return trainer


def test_fit_with_a_three_stage_schedule(tmp_path):
    callback = FreezeCallback(CONFIG, manifest=tmp_path / "manifest.json")
    module, logger = Module(callback), Recorder()
    start = {k: v.clone() for k, v in module.net.state_dict().items() if k.startswith(("embed", "cls"))}
    trainer = _fit(module, callback, logger)
    counts = [(r["trainable_params"], r["frozen_params"]) for r in logger.rows if "trainable_params" in r]
    assert counts == [(15, 124), (51, 88), (107, 32)]  # head; + blocks.2 and norm; + blocks.0-1
    assert [c["groups_added"] for c in callback.changes] == [2, 2]
    lrs = [(g["lr"], g["weight_decay"]) for g in trainer.optimizers[0].param_groups]
    assert lrs == [
        (0.1, 0.05),
        (0.1, 0.0),
        (0.010000000000000002, 0.05),
        (0.010000000000000002, 0.0),
        (0.005000000000000001, 0.05),
        (0.005000000000000001, 0.0),
    ]
    assert all(torch.equal(module.net.state_dict()[k], v) for k, v in start.items())
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["frozen"] == ["net.cls_token", "net.embed.weight", "net.embed.bias"]
    assert [s["at"] for s in manifest["training"]["stages"]] == [0, 1, 2]


def test_an_injected_violation_fails_the_fit_with_the_names():
    callback = FreezeCallback(CONFIG)
    with pytest.raises(VerifyError, match=r"2 moved \(net.embed.weight, net.embed.bias\); 2 set trainable"):
        _fit(Module(callback, inject=True), callback, Recorder())
