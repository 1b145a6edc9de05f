"""Lightning: the freeze, the optimizer groups, a gradual unfreeze and the guard, from one config.

Run:  python examples/lightning_finetune.py     (pip install 'freezekit[lightning]')
"""
import torch
from lightning.pytorch import LightningModule, Trainer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from freezekit.integrations.lightning import FreezeCallback

CONFIG = {
    "rules": [{"freeze": "backbone.0"}],  # the stem never trains
    "optimizer": {"weight_decay": 0.05, "lr_scale": [{"select": "head", "scale": 10}]},
    "stages": [{"at": 0, "freeze": "backbone"}, {"at": 1, "unfreeze": "backbone.2", "lr_scale": 0.1}],
}


class Classifier(LightningModule):
    def __init__(self, callback: FreezeCallback):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
        self.head = nn.Linear(16, 3)
        self.freeze_callback = callback

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.head(self.backbone(x)), y)

    def configure_optimizers(self):  # runs after the callback's setup: only the head is trainable here
        return torch.optim.AdamW(self.freeze_callback.param_groups(self, lr=1e-3), lr=1e-3)


torch.manual_seed(0)
callback = FreezeCallback(CONFIG)  # on_violation="warn", manifest="freeze.json" are options
module = Classifier(callback)
data = DataLoader(TensorDataset(torch.randn(16, 8), torch.randint(0, 3, (16,))), batch_size=8)
trainer = Trainer(max_epochs=2, callbacks=[callback], logger=False, enable_checkpointing=False,
                  enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1)
trainer.fit(module, data)  # at fit end: the stem is bit-identical, else VerifyError names it
assert [c["groups_added"] for c in callback.changes] == [2]
assert [g["lr"] for g in trainer.optimizers[0].param_groups] == [1e-2, 1e-2, 1e-4, 1e-4]
print(f"trainable: {sum(p.numel() for p in module.parameters() if p.requires_grad)}")
