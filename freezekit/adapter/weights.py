"""Pretrained weights: torchvision's enums from the local hub cache first, and weight files."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import urlparse

from ..bounded_read import open_regular
from ..core.suggest import did_you_mean
from ..errors import ModelError, WeightsError

if TYPE_CHECKING:
    from torch import nn

DOWNLOAD_TIMEOUT_S = 10


def _weights_enum(model_name: str) -> Any:
    from torchvision import models

    from .zoo import check_name

    check_name(model_name)  # an unknown name suggests the nearest ones
    try:
        return models.get_model_weights(model_name)
    except (ValueError, KeyError) as exc:
        raise ModelError(f"model '{model_name}' has no pretrained weights in torchvision") from exc


def cache_path(weights: Any) -> Path:
    """Where torch.hub keeps this enum's file: $TORCH_HOME/hub/checkpoints/<file name of the URL>."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def resolve(model_name: str, weights_name: str) -> Any:
    enum = _weights_enum(model_name)
    if weights_name == "DEFAULT":
        return enum.DEFAULT
    names = [w.name for w in enum]
    if weights_name not in names:
        raise WeightsError(
            f"model '{model_name}' has no weights '{weights_name}'"
            f"{did_you_mean(weights_name, names)} (choices: DEFAULT, {', '.join(names)})"
        )
    return enum[weights_name]


def require_cached(model_name: str, weights_name: str, why: str) -> None:
    """Refuse, without any download, weights that are not in the torch hub cache (`why`: whose request it is)."""
    weights = resolve(model_name, weights_name)
    path = cache_path(weights)
    if not path.is_file():
        raise WeightsError(
            f"weights {type(weights).__name__}.{weights.name} are not in the torch hub cache (expected {path}): {why}"
        )


def ensure_cached(weights: Any) -> Path:
    """The cached file, downloading it (progress bar on a terminal) when the network allows."""
    path = cache_path(weights)
    if path.is_file():
        return path
    label = f"{type(weights).__name__}.{weights.name}"
    if os.environ.get("FREEZEKIT_OFFLINE"):
        raise WeightsError(f"weights {label} are not in the cache: expected {path}; fetch {weights.url} to that path")
    import torch.hub

    path.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        # torch writes to a temp file and renames it: an interrupted download leaves no file.
        # with the hash prefix of the file's name checked, as torch.hub's own download does
        found = torch.hub.HASH_REGEX.search(path.name)
        torch.hub.download_url_to_file(
            weights.url, str(path), hash_prefix=found.group(1) if found else None, progress=sys.stderr.isatty()
        )
    except Exception as exc:  # URLError, timeouts, HTTP errors: all mean "not available offline"
        raise WeightsError(
            f"weights {label} are not in the cache and could not be downloaded "
            f"({type(exc).__name__}): expected {path}; fetch {weights.url} to that path"
        ) from exc
    finally:
        socket.setdefaulttimeout(previous)
    return path


def check_hash_prefix(path: Path) -> None:
    """The check torch.hub makes on download (the file's SHA-256 starts with the hex digits in its
    name), made again on a cached file before --trust-pickle unpickles it in full."""
    import hashlib

    from torch.hub import HASH_REGEX

    found = HASH_REGEX.search(path.name)
    if not found or not found.group(1):
        return
    digest = hashlib.sha256()
    with open_regular(path, "weights file", WeightsError) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if not digest.hexdigest().startswith(found.group(1)):
        raise WeightsError(
            f"{path}: its SHA-256 does not start with {found.group(1)}, the hash in its published "
            "name: the cached file was damaged or replaced; not loaded (delete it to download again)"
        )


@contextlib.contextmanager
def safe_hub_loading(trust_pickle: bool) -> Iterator[None]:
    """While a torchvision builder runs, its weights load through freezekit, not torch.hub.

    torchvision's `Weights.get_state_dict` calls torch.hub's `load_state_dict_from_url`, which
    unpickles with weights_only=False: a poisoned file in the hub cache would run code. Here the
    cached file is loaded with `torch.load(weights_only=True)`; full unpickling only under
    --trust-pickle, and then only after the file matches the hash prefix in its name. Nothing is
    downloaded here (`ensure_cached` did that, with the same hash check, as torch.hub does).
    """
    from torchvision.models import _api

    def load_cached(
        url: str,
        model_dir: str | None = None,
        map_location: Any = None,
        progress: bool = True,
        check_hash: bool = False,
        file_name: str | None = None,
        weights_only: bool = False,
    ) -> Any:
        import torch.hub

        folder = Path(model_dir) if model_dir else Path(torch.hub.get_dir()) / "checkpoints"
        path = folder / (file_name or os.path.basename(urlparse(url).path))
        if not path.is_file():
            raise WeightsError(f"weights are not in the cache: expected {path}; fetch {url} to that path")
        if trust_pickle:  # about to unpickle fully: the file must at least be the one published
            check_hash_prefix(path)
        from .state_dict_files import load_state_dict_file

        return load_state_dict_file(path, trust_pickle=trust_pickle)

    saved = _api.load_state_dict_from_url
    _api.load_state_dict_from_url = load_cached
    try:
        yield
    finally:
        _api.load_state_dict_from_url = saved


def torchvision_weights(model_name: str, weights_name: str) -> Any:
    weights = resolve(model_name, weights_name)
    ensure_cached(weights)
    return weights


def list_weights(model_name: str) -> list[str]:
    enum = _weights_enum(model_name)
    lines = []
    for w in enum:
        tag = " (DEFAULT)" if w is enum.DEFAULT else ""
        where = "cached" if cache_path(w).is_file() else "not cached"
        lines.append(f"{w.name}{tag}\t{where}\t{cache_path(w)}\t{w.url}")
    return lines


def _first(names: list[str], n: int = 5) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def check_state_dict(model: "nn.Module", state: dict, path: str) -> None:
    """Missing or unexpected keys and shape mismatches, each listing the first offenders."""
    import torch

    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    # a state_dict file may hold anything under a key the model expects (a string, a list...)
    not_tensors = [
        f"{k} ({type(state[k]).__name__})" for k in expected if k in state and not isinstance(state[k], torch.Tensor)
    ]
    mismatched = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if isinstance(state.get(k), torch.Tensor) and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_first(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_first(unexpected)}")
    if not_tensors:
        problems.append(f"values that are not tensors: {_first(not_tensors)}")
    if mismatched:
        problems.append(f"shape mismatches (file vs model): {_first(mismatched)}")
    if problems:
        raise WeightsError(f"{path}: does not match the model; " + "; ".join(problems))


def load_weights_file(model: "nn.Module", path: str, trust_pickle: bool = False) -> None:
    from torch import nn

    from .state_dict_files import load_state_dict_file

    state = load_state_dict_file(path, trust_pickle=trust_pickle)
    if isinstance(state, nn.Module):
        state = state.state_dict()
    # safetensors files written from tied models hold one name per shared tensor:
    # fill the other names from the model's own aliasing before checking.
    state = _with_tied_names(model, state)
    check_state_dict(model, state, path)
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(f"{path}: cannot load into the model: {first}") from exc


def _with_tied_names(model: "nn.Module", state: dict) -> dict:
    groups: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        groups.setdefault(id(p), []).append(name)
    state = dict(state)
    for names in groups.values():
        present = [n for n in names if n in state]
        if present:
            for n in names:
                state.setdefault(n, state[present[0]])
    return state
