"""--save: the model's weights as .safetensors or .pt, with the freeze manifest embedded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.name_lists import first_names
from ..core.records import DTYPE_BYTES
from ..errors import OutputError, WeightsError
from ..sources.safetensors_header import DTYPES

if TYPE_CHECKING:
    from torch import nn

MANIFEST_KEY = "freezekit_manifest"
SAVE_SUFFIXES = (".safetensors", ".pt", ".pth")
SAFETENSORS_READABLE = frozenset(DTYPES.values())  # what `count FILE.safetensors` reads back


def check_savable(model: nn.Module, path: str) -> None:
    """Refuse, before a byte is written, what would save a file freezekit cannot read back: tensors
    on the meta device (no values: the file would hold no weights) and dtypes freezekit does not
    know the size of."""
    from .inventory import dtype_name

    state = model.state_dict(keep_vars=True)
    meta = [name for name, t in state.items() if getattr(t, "is_meta", False)]
    if meta:
        raise WeightsError(
            f"--save {path}: {len(meta)} tensor(s) are on the meta device and hold no values: "
            f"{first_names(meta)}; build the model with real tensors (not device='meta') to save it"
        )
    known = SAFETENSORS_READABLE if Path(path).suffix.lower() == ".safetensors" else frozenset(DTYPE_BYTES)
    odd = sorted({dtype_name(t.dtype) for t in state.values() if hasattr(t, "dtype")} - known)
    if odd:
        names = [name for name, t in state.items() if hasattr(t, "dtype") and dtype_name(t.dtype) in odd]
        way_out = "convert those tensors" + (" or save as .pt" if known is SAFETENSORS_READABLE else "")
        raise WeightsError(
            f"--save {path}: dtype {', '.join(odd)} ({first_names(names)}) cannot be read back from a "
            f"{Path(path).suffix} file by freezekit; {way_out}"
        )


def write_weights(model: "nn.Module", tmp: Path, dest: str, manifest: dict[str, Any]) -> None:
    """Write to `tmp` (the caller renames it into place as `dest`). `.safetensors`: the state_dict,
    one copy of each tied tensor, manifest JSON in the header metadata. `.pt`/`.pth`:
    {"state_dict": ..., "freezekit_manifest": JSON text}, loadable with weights_only=True.
    A failed write (a full disk) is an OutputError naming `dest`."""
    text = json.dumps(manifest, separators=(",", ":"))
    try:
        if Path(dest).suffix.lower() == ".safetensors":
            from safetensors import SafetensorError
            from safetensors.torch import save_model

            try:
                save_model(model, str(tmp), metadata={MANIFEST_KEY: text, "format": "pt"})
            except SafetensorError as exc:
                raise OSError(str(exc)) from exc
        else:
            import torch

            try:
                torch.save({"state_dict": model.state_dict(), MANIFEST_KEY: text}, tmp)
            except RuntimeError as exc:  # torch's zip writer reports a failed write as a RuntimeError
                raise OSError(str(exc).splitlines()[0] if str(exc) else "write failed") from exc
    except OSError as exc:
        raise OutputError(f"{dest}: cannot write: {exc.strerror or exc}; nothing was written") from exc


def check_save_path(path: str) -> None:
    if Path(path).suffix.lower() not in SAVE_SUFFIXES:
        raise OutputError(f"--save {path}: the file name must end in .safetensors, .pt or .pth")
