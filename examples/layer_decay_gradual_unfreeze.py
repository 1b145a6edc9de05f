"""Layer-wise lr decay and gradual unfreezing from one config, guarded: a plain PyTorch loop.

Run:  python examples/layer_decay_gradual_unfreeze.py
The config is configs/vit_b_16-layer-decay-gradual-unfreeze.yaml; the model here is a narrow ViT with
vit_b_16's names and 12 blocks (hidden size 32, 32x32 images), so that it trains in a second on a CPU.
"""
from pathlib import Path

import torch
from torchvision.models.vision_transformer import VisionTransformer

import freezekit

CONFIG = str(Path(__file__).resolve().parent.parent / "configs" / "vit_b_16-layer-decay-gradual-unfreeze.yaml")
torch.manual_seed(0)
model = VisionTransformer(image_size=32, patch_size=16, num_layers=12, num_heads=2, hidden_dim=32, mlp_dim=64,
                          num_classes=10)

# 1. The stage `at: 0` (train the head only) is applied at once, so the optimizer starts with the head.
schedule = freezekit.Schedule(model, CONFIG)
groups = freezekit.param_groups(model, CONFIG, lr=1e-3)  # trainable parameters only, lr = 1e-3 x lr_scale
optimizer = torch.optim.AdamW(groups, lr=1e-3)
assert [(g["name"], g["lr"]) for g in groups] == [("layer_13_decay", 1e-2), ("layer_13_no_decay", 1e-2)]

# 2. Train; each epoch start applies the stages reached, and their parameters join the optimizer.
with freezekit.guard(model, check_every=2) as guard:
    for epoch in range(5):
        for change in schedule.step(epoch, optimizer):
            guard.rebase()  # the newly unfrozen tensors may move from now on
            print(f"epoch {epoch}: {change.as_dict()}")
        for _ in range(2):
            x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            guard.step()  # every 2 steps: the frozen tensors are bit-identical, gradient-free

assert schedule.done and [g["lr"] for g in optimizer.param_groups][-2:] == [5e-5, 5e-5]
print(f"trainable: {sum(p.numel() for p in freezekit.trainable_parameters(model))}")
