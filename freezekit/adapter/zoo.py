"""torchvision models by name: list them, check names, build arguments that never download.

An audit needs shapes, not values, so models are built on the meta device
(nothing allocated). Builders that compute on tensors while building (the
regnet family: "Cannot copy out of meta tensor") fall back to a CPU build whose
parameters are moved to meta as they are registered (`parameters_on_meta`),
and only then to a plain CPU build (see models.build_cascade).
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from typing import Any, Iterator

from ..core.suggest import nearest
from ..errors import ModelError, UsageError

FAMILIES = ("detection", "segmentation", "video", "optical_flow", "quantization")


def list_models() -> list[str]:
    from torchvision import models

    return sorted(models.list_models())


def family_of(name: str) -> str:
    """classification, detection, segmentation, video, optical_flow or quantization."""
    from torchvision import models

    for family in FAMILIES:
        if name in models.list_models(module=getattr(models, family)):
            return family
    return "classification"


def check_name(name: str) -> None:
    names = list_models()
    if name not in names:
        close = nearest(name, names, n=5) or [n for n in names if name.lower() in n][:5]
        hint = f"; did you mean {', '.join(close)}?" if close else "; 'freezekit models' lists them"
        raise ModelError(f"unknown model '{name}'{hint}")


_PATCH = threading.Lock()  # the patch below is process-wide: one build at a time may hold it


@contextlib.contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Move every parameter to meta the moment it is registered (what accelerate's init_empty_weights does).

    It patches nn.Module.register_parameter for the whole process while the block runs, so the
    lock keeps two such builds from interleaving."""
    from torch import nn

    original = nn.Module.register_parameter
    # One meta tensor per original, so that a parameter registered under two names stays tied;
    # the original is kept too, so that its id cannot be reused by another tensor meanwhile.
    moved: dict[int, tuple[nn.Parameter, nn.Parameter]] = {}

    def register(self, name, param):  # noqa: ANN001 - nn.Module's signature
        original(self, name, param)
        if param is not None and param.device.type != "meta":
            if id(param) not in moved:
                moved[id(param)] = (param, nn.Parameter(param.to("meta"), requires_grad=param.requires_grad))
            self._parameters[name] = moved[id(param)][1]

    with _PATCH:
        nn.Module.register_parameter = register  # type: ignore[method-assign]
        try:
            yield
        finally:
            nn.Module.register_parameter = original  # type: ignore[method-assign]


def builder_kwargs(name: str, weights: Any = None, extra: dict | None = None) -> dict:
    from torchvision import models

    builder = models.get_model_builder(name)
    reserved = sorted(set(extra or ()) & {"weights", "weights_backbone"})
    if reserved:
        raise UsageError(
            f"--arg {reserved[0]}: weights are chosen with --weights (or --weights-file), "
            "never passed to the builder, so nothing downloads unasked"
        )
    kwargs: dict[str, Any] = {"weights": weights}
    if "weights_backbone" in inspect.signature(builder).parameters:
        kwargs["weights_backbone"] = None  # never download a backbone nobody asked for
    kwargs.update(extra or {})
    return kwargs
