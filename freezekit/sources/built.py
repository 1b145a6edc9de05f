"""What every model-building source kind does after the build: load --weights-file, take the inventory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .spec import Loaded, SourceSpec

if TYPE_CHECKING:
    from torch import nn


def loaded_model(model: "nn.Module", spec: SourceSpec) -> Loaded:
    if spec.weights_file is not None:
        from ..adapter.weights import load_weights_file

        load_weights_file(model, spec.weights_file, trust_pickle=spec.trust_pickle)
    from ..adapter.inventory import inventory_of

    return Loaded(inventory_of(model, spec.text), model)
