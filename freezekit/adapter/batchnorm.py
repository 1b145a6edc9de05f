"""Apply the BatchNorm policy to a real model (the report's rows come from batchnorm_policy.py).

The most reported freezing bug: BatchNorm weights are frozen, but in `train()` mode the
layer still updates its running statistics, so the "frozen" network drifts.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

    from ..core.batchnorm_policy import BatchNormPolicy


def _frozen_bn_class():
    import torch
    from torch import nn

    class FrozenBatchNorm(nn.Module):
        """BatchNorm with fixed statistics and affine values, for any input rank (1d, 2d, 3d)."""

        def __init__(self, num_features: int, eps: float = 1e-5):
            super().__init__()
            self.eps = eps
            for name, init in (
                ("weight", torch.ones),
                ("bias", torch.zeros),
                ("running_mean", torch.zeros),
                ("running_var", torch.ones),
            ):
                self.register_buffer(name, init(num_features))

        def forward(self, x):
            scale = self.weight * (self.running_var + self.eps).rsqrt()
            shift = self.bias - self.running_mean * scale
            shape = (1, -1) + (1,) * (x.dim() - 2)
            return x * scale.reshape(shape) + shift.reshape(shape)

    return FrozenBatchNorm


def norm_layers(model: "nn.Module") -> list[tuple[str, "nn.Module"]]:
    from torch.nn.modules.batchnorm import _BatchNorm
    from torchvision.ops.misc import FrozenBatchNorm2d

    return [(n, m) for n, m in model.named_modules() if isinstance(m, (_BatchNorm, FrozenBatchNorm2d))]


def _affine_state(module: "nn.Module") -> bool | None:
    """True: some affine parameter trainable; False: all frozen (the layer is frozen); None: no affine."""
    from torch import nn

    params = [
        p for p in (getattr(module, "weight", None), getattr(module, "bias", None)) if isinstance(p, nn.Parameter)
    ]
    return any(p.requires_grad for p in params) if params else None


def _keep_eval(module: "nn.Module") -> None:
    """Pin the layer to eval mode: Module.train() calls child.train(mode), which now ignores mode."""
    from torch import nn

    def train(self, mode: bool = True):  # noqa: ANN001
        return nn.Module.train(self, False)

    module.train = types.MethodType(train, module)  # type: ignore[method-assign]
    module.train(False)


def _frozen_replacement(module: "nn.Module") -> "nn.Module":
    import torch
    from torch import nn
    from torchvision.ops.misc import FrozenBatchNorm2d

    fits_2d = isinstance(module, nn.BatchNorm2d)
    new = (
        FrozenBatchNorm2d(module.num_features, eps=module.eps)
        if fits_2d
        else _frozen_bn_class()(module.num_features, module.eps)
    )
    new = new.to(device=module.weight.device, dtype=module.weight.dtype)
    pairs = [(new.weight, module.weight), (new.bias, module.bias)]
    if module.running_mean is not None:
        pairs += [(new.running_mean, module.running_mean), (new.running_var, module.running_var)]
    with torch.no_grad():
        for dst, src in pairs:
            if src.device.type != "meta":
                dst.copy_(src)
    return new


def _set_submodule(model: "nn.Module", name: str, new: "nn.Module") -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def apply_policy(model: "nn.Module", policy: "BatchNormPolicy | None") -> int:
    """Apply the policy in place to every frozen BatchNorm layer (see batchnorm_policy); return how many changed."""
    from ..core.batchnorm_policy import BatchNormPolicy, effective

    policy = effective(policy)
    if policy is BatchNormPolicy.TRAIN:
        return 0
    from torchvision.ops.misc import FrozenBatchNorm2d

    changed = 0
    for name, module in norm_layers(model):
        if isinstance(module, FrozenBatchNorm2d) or _affine_state(module) is not False:
            continue
        if module.running_mean is None:  # no statistics to keep: eval or a replacement would change its output
            continue
        if policy is BatchNormPolicy.EVAL:
            _keep_eval(module)
        else:
            _set_submodule(model, name, _frozen_replacement(module))
        changed += 1
    return changed
