"""freezekit: freeze parts of PyTorch models by declared rules, and audit what you froze.

The Python API is imported lazily, so that `import freezekit` and `freezekit --help`
never pay for torch:

    import freezekit
    report = freezekit.freeze(model, rules=["features.*"])
    optimizer = torch.optim.SGD(freezekit.trainable_parameters(model), lr=0.01)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = (
    "freeze",
    "trainable_parameters",
    "count",
    "audit_optimizer",
    "apply_manifest",
    "save_manifest",
    "check_manifest",
    "FreezeReport",
    "OptimizerAudit",
)
_TRAINING = {"param_groups": "param_groups", "Schedule": "schedule", "guard": "guard"}
__all__ = [*_API, *_TRAINING, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        return getattr(api, name)
    if name in _TRAINING:
        from importlib import import_module

        return getattr(import_module(f".training.{_TRAINING[name]}", __name__), name)
    raise AttributeError(f"module 'freezekit' has no attribute {name!r}")
