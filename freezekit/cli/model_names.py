"""What `freezekit models` prints: torchvision's or timm's model names, or one model's pretrained weights."""

from __future__ import annotations

from ..errors import UsageError
from .options import ModelsSource


def model_name_lines(source: ModelsSource, name_filter: str | None, weights: str | None) -> list[str]:
    if source is ModelsSource.TIMM:
        from ..adapter import timm_models

        if weights:
            return timm_models.list_weights(weights)
        names = timm_models.list_models()
    else:
        if weights:
            from ..adapter.weights import list_weights

            return list_weights(weights)
        from ..adapter import zoo

        names = zoo.list_models()
    chosen = [n for n in names if not name_filter or name_filter.lower() in n.lower()]
    if not chosen:
        raise UsageError(f"no model name contains '{name_filter}'")
    return chosen
