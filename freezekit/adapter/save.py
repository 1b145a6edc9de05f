"""--save: the model's weights as .safetensors or .pt, with the freeze manifest embedded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OutputError

if TYPE_CHECKING:
    from torch import nn

MANIFEST_KEY = "freezekit_manifest"
SAVE_SUFFIXES = (".safetensors", ".pt", ".pth")


def write_weights(model: "nn.Module", tmp: Path, suffix: str, manifest: dict[str, Any]) -> None:
    """Write to `tmp` (the caller renames it into place). `.safetensors`: the state_dict, one copy
    of each tied tensor, manifest JSON in the header metadata. `.pt`/`.pth`:
    {"state_dict": ..., "freezekit_manifest": JSON text}, loadable with weights_only=True."""
    text = json.dumps(manifest, separators=(",", ":"))
    if suffix == ".safetensors":
        from safetensors.torch import save_model

        save_model(model, str(tmp), metadata={MANIFEST_KEY: text, "format": "pt"})
    else:
        import torch

        torch.save({"state_dict": model.state_dict(), MANIFEST_KEY: text}, tmp)


def check_save_path(path: str) -> None:
    if Path(path).suffix.lower() not in SAVE_SUFFIXES:
        raise OutputError(f"--save {path}: the file name must end in .safetensors, .pt or .pth")
