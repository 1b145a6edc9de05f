"""Source kind: a torchvision model name (`vgg16`, `resnet50`), the catch-all of the registry.

Built by the torch adapter (adapter/build.py), on the meta device unless values are needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .spec import Loaded, SourceKind, SourceSpec


def parse(text: str, base: Path | None) -> SourceSpec | None:
    return SourceSpec(SourceKind.TORCHVISION, text, text)  # whatever no other kind claims


def load(spec: SourceSpec, materialize: bool) -> Loaded:
    from ..adapter.build import build_torchvision
    from .built import loaded_model

    return loaded_model(
        build_torchvision(spec.ref, dict(spec.args), spec.weights, materialize, spec.trust_pickle), spec
    )


def builds_model(spec: SourceSpec) -> bool:
    return True


def runs_code(spec: SourceSpec) -> bool:
    return False


def input_files(spec: SourceSpec) -> tuple[str, ...]:
    """With --weights, the torch hub's cached file is read: an output must never replace it."""
    if spec.weights is None:
        return ()
    from ..adapter.weights import cache_path, resolve

    return (str(cache_path(resolve(spec.ref, spec.weights))),)


def cache_identity(spec: SourceSpec) -> dict[str, Any] | None:
    return {"name": spec.ref}
