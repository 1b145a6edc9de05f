"""Load a state_dict file (.safetensors, .pt, .pth, .bin, .ckpt) with torch, safely by default.

Pickle-based files go through `torch.load(weights_only=True)`, which refuses any
object that would run code on load; only `trust_pickle=True` (the CLI's
--trust-pickle) loads such a file, and then code from the file runs.
"""

from __future__ import annotations

import mmap
import os
import pickle
import pickletools
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..bounded_read import open_regular
from ..errors import UnsafePickleError, WeightsError
from ..text_files import check_input_file

if TYPE_CHECKING:
    from torch import Tensor, nn

# Keys under which training frameworks nest the state_dict (Lightning, many scripts).
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
ZIP_MAGIC = b"PK\x03\x04"
MAX_ZIP_RATIO = 64  # a checkpoint's zip entries may declare at most 64x the file's size, uncompressed


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


def available_memory() -> int | None:
    """Bytes the kernel says a new allocation can get (MemAvailable), or None where it does not say."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f.read(1 << 16).splitlines():
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_zip_sizes(path: Path, f: BinaryIO) -> None:
    """Refuse a zip archive whose entries declare more bytes than it can honestly hold (a zip bomb).

    torch.save stores its entries uncompressed, so a real checkpoint declares about its own size
    (and is memory-mapped, not read into memory); a crafted one can declare gigabytes in a few
    compressed kilobytes, and torch's reader allocates what is declared. Refused: entries declaring
    more than MAX_ZIP_RATIO times the file's size in all, or compressed entries that would inflate
    to more than the available memory. Only the central directory is read (nothing is inflated).
    """
    size = os.fstat(f.fileno()).st_size
    try:
        with zipfile.ZipFile(f) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # not a readable zip: torch.load says what is wrong with it
    declared = sum(info.file_size for info in infos)
    inflated = sum(info.file_size for info in infos if info.compress_type != zipfile.ZIP_STORED)
    limit = MAX_ZIP_RATIO * max(size, 1)
    free = available_memory() if inflated else None
    if declared > limit or (free is not None and inflated > free):
        why = (
            f"over {MAX_ZIP_RATIO}x the {size:,}-byte file"
            if declared > limit
            else f"more than the {free:,} bytes of memory available"
        )
        raise WeightsError(
            f"{path}: its zip entries declare {declared:,} bytes uncompressed, {why} (a zip bomb?); not loaded"
        )


def _torch_load(path: Path, trust_pickle: bool) -> Any:
    with open_regular(path, "weights file", WeightsError) as f:
        is_zip = f.read(4) == ZIP_MAGIC
        if is_zip:
            check_zip_sizes(path, f)  # before torch is even imported
    import torch

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
        what = (
            "loading it (which ran code from the file) failed"
            if trust_pickle
            else "damaged or not a PyTorch checkpoint"
        )
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
    return (
        f"{path}: loading this file would run code from it{what}, so it was not loaded; "
        "if you trust the file, --trust-pickle loads it, which RUNS CODE FROM THE FILE"
    )


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
        raise WeightsError(
            f"{path}: holds a dict with no tensors (keys: {keys or 'none'}); "
            f"expected a state_dict, optionally nested under {' or '.join(WRAPPER_KEYS)}"
        )
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
    return [
        StoredTensor(name, tuple(t.shape), dtype_name(t.dtype), tuple(aliases)) for name, (t, aliases) in found.items()
    ]


def _memory_key(t: "Tensor") -> object:
    """What makes two tensors the same memory; None when that cannot be told (empty, sparse, ...)."""
    if t.numel() == 0:
        return None
    try:
        return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
    except (RuntimeError, NotImplementedError, TypeError):
        return None


def load_pickled_checkpoint(path: str | Path, trust_pickle: bool = False) -> "tuple[dict[str, Tensor], str | None]":
    """A .pt/.pth/.bin/.ckpt file's tensors by name (a pickled model gives its state_dict), and the
    freeze manifest `--save` embedded (JSON text) when the file has one. Loaded with weights_only=True
    unless the user trusts the file."""
    import torch

    path = check_input_file(path, "checkpoint", WeightsError)
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: file is empty")
    obj = _torch_load(path, trust_pickle)
    manifest = obj.get("freezekit_manifest") if isinstance(obj, dict) else None
    state = _unwrap(path, obj)
    state = state.state_dict() if not isinstance(state, dict) else state
    tensors = {k: v for k, v in state.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    return tensors, manifest if isinstance(manifest, str) else None
