"""A synthetic training batch and a loss for each torchvision family.

Classification uses cross-entropy on random labels (as the plain-PyTorch baseline does);
detection models in train() mode take targets and return their loss dict; other families
sum the means of every floating tensor they return (aux heads included, so their
parameters get gradients too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..errors import UsageError

if TYPE_CHECKING:
    import torch
    from torch import nn

DEFAULT_BATCH = 2  # BatchNorm in train() mode needs more than one value per channel


@dataclass
class Batch:
    call: Callable[["nn.Module"], Any]  # runs the forward pass
    loss: Callable[[Any], "torch.Tensor"]
    desc: str


def _image_size(model: "nn.Module", name: str) -> int:
    size = getattr(model, "image_size", None)  # ViT checks the exact size
    if isinstance(size, int):
        return size
    timm_cfg = getattr(model, "pretrained_cfg", None)  # a timm model: the input its weights were trained on
    if isinstance(timm_cfg, dict) and isinstance(timm_cfg.get("input_size"), (tuple, list)):
        return int(timm_cfg["input_size"][-1])
    return 299 if "inception" in name else 224


def total_of(output: Any) -> "torch.Tensor":
    """Sum of the means of every floating tensor in a (nested) output."""
    import torch

    parts: list[torch.Tensor] = []

    def walk(x: Any) -> None:
        if isinstance(x, torch.Tensor):
            if x.is_floating_point():
                parts.append(x.float().mean())
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    walk(output)
    if not parts:
        raise UsageError("the model's output holds no floating tensor to take a loss from")
    return torch.stack(parts).sum()


def _detection_targets(name: str, batch: int, size: int, device: str) -> list[dict]:
    import torch

    targets = []
    for _ in range(batch):
        t = {
            "boxes": torch.tensor([[16.0, 24.0, 120.0, 160.0]], device=device),
            "labels": torch.tensor([1], device=device),
        }
        if "maskrcnn" in name:
            masks = torch.zeros(1, size, size, dtype=torch.uint8, device=device)
            masks[0, 24:160, 16:120] = 1
            t["masks"] = masks
        if "keypointrcnn" in name:
            kp = torch.tensor([[[20.0 + 5 * i, 30.0 + 5 * i, 1.0] for i in range(17)]], device=device)
            t["keypoints"] = kp
        targets.append(t)
    return targets


def make_batch(
    model: "nn.Module", name: str, family: str, batch: int, device: str, input_shape: tuple[int, ...] | None
) -> Batch:
    import torch

    def randn(*shape: int) -> "torch.Tensor":
        return torch.randn(*shape, device=device)

    if family == "detection":
        size = input_shape[-1] if input_shape else 256
        images = [randn(3, size, size) for _ in range(batch)]
        targets = _detection_targets(name, batch, size, device)
        return Batch(lambda m: m(images, targets), total_of, f"{batch} images 3x{size}x{size} with one box each")
    if family == "optical_flow":
        shape = input_shape or (3, 128, 128)
        a, b = randn(batch, *shape), randn(batch, *shape)
        return Batch(lambda m: m(a, b), total_of, f"image pairs {batch}x{'x'.join(map(str, shape))}")
    if family == "video":
        side = 112 if name in ("r3d_18", "mc3_18", "r2plus1d_18") else 224
        shape = input_shape or (3, 16, side, side)
        x = randn(batch, *shape)
        return Batch(lambda m: m(x), total_of, f"clips {batch}x{'x'.join(map(str, shape))}")
    if family in ("classification", "quantization", "segmentation"):
        side = _image_size(model, name)
        shape = input_shape or (3, side, side)
        x = randn(batch, *shape)
        if family == "segmentation":
            return Batch(lambda m: m(x), total_of, f"images {batch}x{'x'.join(map(str, shape))}")
        labels = torch.randint(0, 1000, (batch,), device=device)

        def loss(out: Any) -> "torch.Tensor":
            logits = out if isinstance(out, torch.Tensor) else out[0]
            aux = total_of(list(out[1:])) if isinstance(out, tuple) and len(out) > 1 and out[1] is not None else 0
            return torch.nn.functional.cross_entropy(logits.float(), labels % logits.shape[-1]) + aux

        return Batch(lambda m: m(x), loss, f"images {batch}x{'x'.join(map(str, shape))}")
    if input_shape is None:
        raise UsageError(f"cannot infer an input for '{name}'; pass --input-shape C,H,W (without the batch size)")
    x = randn(batch, *input_shape)
    return Batch(lambda m: m(x), total_of, f"inputs {batch}x{'x'.join(map(str, input_shape))}")
