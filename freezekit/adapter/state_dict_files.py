"""Load a state_dict file (.safetensors, .pt, .pth, .bin, .ckpt) with torch, safely by default.

Pickle-based files go through `torch.load(weights_only=True)`, which refuses any
object that would run code on load; only `trust_pickle=True` (the CLI's
--trust-pickle) loads such a file, and then code from the file runs.
"""
from __future__ import annotations

import mmap
import pickle
import pickletools
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UnsafePickleError, WeightsError
from ..text_files import check_input_file

if TYPE_CHECKING:
    from torch import Tensor, nn

# Keys under which training frameworks nest the state_dict (Lightning, many scripts).
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
ZIP_MAGIC = b"PK\x03\x04"


def load_state_dict_file(path: str | Path, trust_pickle: bool = False) -> "dict[str, Tensor] | nn.Module":
    """The tensors a file holds, keyed by name; or the whole model when the (trusted) file pickled one.

    Values that are not tensors may remain in the dict (e.g. `_extra_state`).
    """
    path = check_input_file(path, "weights file", WeightsError)
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: file is empty")
    if path.suffix.lower() == ".safetensors":
        return _load_safetensors(path)
    return _unwrap(path, _torch_load(path, trust_pickle))


def _load_safetensors(path: Path) -> "dict[str, Tensor]":
    from ..sources.safetensors_header import read_header

    read_header(path)  # one clear error for a damaged header, before the library's own
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except Exception as exc:  # SafetensorError, OSError, ...: damaged data
        raise WeightsError(f"{path}: cannot be loaded as safetensors: {_one_line(exc)}") from exc


def _torch_load(path: Path, trust_pickle: bool) -> Any:
    import torch

    with open(path, "rb") as f:
        is_zip = f.read(4) == ZIP_MAGIC
    # mmap needs the zip format (torch.save's default since 1.6); legacy files load without it.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if trust_pickle:
                return torch.load(path, weights_only=False, map_location="cpu", mmap=is_zip)
            return torch.load(path, weights_only=True, map_location="cpu", mmap=is_zip)
    except pickle.UnpicklingError as exc:
        if not trust_pickle and (is_zip or _is_pickle(path)):
            raise UnsafePickleError(_unsafe_message(path, exc)) from exc
        raise WeightsError(f"{path}: not a PyTorch checkpoint (neither a torch.save zip archive nor a pickle)") from exc
    except Exception as exc:  # torch raises RuntimeError, EOFError, ValueError... for damaged files
        what = "loading it (which ran code from the file) failed" if trust_pickle else "damaged or not a PyTorch checkpoint"
        raise WeightsError(f"{path}: {what}: {type(exc).__name__}: {_one_line(exc)}") from exc


def _is_pickle(path: Path) -> bool:
    """Whether the file starts with a well-formed pickle. Parses opcodes only; runs nothing."""
    try:
        # mmap: a bogus length in random bytes reads at most the file, and allocates nothing
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as view:
            for _ in pickletools.genops(view):  # type: ignore[arg-type]  # an mmap reads like a file
                pass
        return True
    except Exception:  # any parse failure: random bytes, not a pickle
        return False


def _unsafe_message(path: Path, exc: BaseException) -> str:
    found = re.search(r"GLOBAL (\S+) was not an allowed global", f"{exc} {exc.__cause__ or ''}")
    what = f" (it refers to {found.group(1)})" if found else ""
    return (f"{path}: loading this file would run code from it{what}, so it was not loaded; "
            "if you trust the file, --trust-pickle loads it, which RUNS CODE FROM THE FILE")


def _has_tensors(value: Any) -> bool:
    import torch

    return isinstance(value, dict) and any(isinstance(v, torch.Tensor) for v in value.values())


def _unwrap(path: Path, obj: Any) -> "dict[str, Tensor] | nn.Module":
    from torch import nn

    if isinstance(obj, nn.Module):
        return obj
    if isinstance(obj, dict):
        for key in WRAPPER_KEYS:
            inner = obj.get(key)
            if isinstance(inner, nn.Module) or _has_tensors(inner):
                return inner  # type: ignore[return-value]  # a Module or a dict holding tensors
        if _has_tensors(obj):
            return obj
        keys = ", ".join(repr(k) for k in list(obj)[:8])
        raise WeightsError(f"{path}: holds a dict with no tensors (keys: {keys or 'none'}); "
                           f"expected a state_dict, optionally nested under {' or '.join(WRAPPER_KEYS)}")
    raise WeightsError(f"{path}: holds a {type(obj).__name__}, not a state_dict (a dict of tensors) or a model")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass(frozen=True)
class StoredTensor:
    """One distinct tensor of a loaded state_dict; `aliases` are other names for the same memory."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    aliases: tuple[str, ...] = ()


def stored_tensors(state: dict) -> list[StoredTensor]:
    """The tensors of a state_dict in its order, skipping non-tensor values.

    torch.save keeps tied weights (an embedding shared with the output layer) as one
    storage under two names; they become one entry with an alias, so totals count
    them once, as `model.parameters()` would.
    """
    import torch

    from .inventory import dtype_name

    first: dict[object, str] = {}
    found: dict[str, tuple[torch.Tensor, list[str]]] = {}
    for name, t in state.items():
        if not (isinstance(name, str) and isinstance(t, torch.Tensor)):
            continue
        key = _memory_key(t)
        if key is not None and key in first:
            found[first[key]][1].append(name)
            continue
        if key is not None:
            first[key] = name
        found[name] = (t, [])
    return [StoredTensor(name, tuple(t.shape), dtype_name(t.dtype), tuple(aliases))
            for name, (t, aliases) in found.items()]


def _memory_key(t: "Tensor") -> object:
    """What makes two tensors the same memory; None when that cannot be told (empty, sparse, ...)."""
    if t.numel() == 0:
        return None
    try:
        return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
    except (RuntimeError, NotImplementedError, TypeError):
        return None
