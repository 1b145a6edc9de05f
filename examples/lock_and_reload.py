"""The frozen set survives a reload only through a manifest: requires_grad is not in a state_dict.

Run:  python examples/lock_and_reload.py
"""
import tempfile
from pathlib import Path

import torch
import torchvision

import freezekit

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "resnet50-linear-probe.yaml"

with tempfile.TemporaryDirectory() as tmp:
    # Training job 1: freeze from the shared recipe, keep the weights and the lock file.
    model = torchvision.models.resnet50()
    report = freezekit.freeze(model, str(CONFIG), source="resnet50")  # checks expect: trainable 2,049,000
    torch.save(model.state_dict(), Path(tmp) / "weights.pt")
    freezekit.save_manifest(report, str(Path(tmp) / "freeze.json"))

    # Training job 2: a reload makes everything trainable again ...
    reloaded = torchvision.models.resnet50()
    reloaded.load_state_dict(torch.load(Path(tmp) / "weights.pt", weights_only=True))
    assert freezekit.count(reloaded).trainable == 25557032

    # ... until the manifest re-applies exactly the frozen set (and fails if the model drifted).
    totals = freezekit.apply_manifest(reloaded, str(Path(tmp) / "freeze.json"))
    assert totals.trainable == 2049000 == freezekit.count(reloaded).trainable
    assert [n for n, p in reloaded.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
    print(f"re-applied: {totals.frozen:,} frozen, {totals.trainable:,} trainable")
