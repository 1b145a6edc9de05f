"""Paths an adapter_config.json names, confined like its base model (sources/hub_folders.resolve_base).
Pure: no torch.

PEFT's adapter types carry more paths than `base_model_name_or_path`: prompt tuning's
`tokenizer_name_or_path`, multitask prompt tuning's `prompt_tuning_init_state_dict_path`,
SHADOW's `shadow_model`, CorDA's `cache_file`... and the next release may add one. PEFT opens
them relative to the working folder, or fetches them from the hub. So every path-like field (a
name ending in `_path`, `_file`, `_dir`, `_model`..., or a value that reads as a path: absolute,
`~`, a `..` segment) must name a file or folder inside the adapter's folder, or a repo id in the
local Hugging Face cache; it is then handed to PEFT as that absolute path. Anything else refuses
the adapter with one line naming the field.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from ..bounded_read import resolves_inside, stays_inside
from ..errors import ModelError, quoted
from .hub_confinement import confine
from .hub_folders import cached_repo_snapshot, expected_cache_dir, is_repo_id

PATH_SUFFIXES = ("_path", "_file", "_dir", "_folder", "_model", "_name_or_path", "_files", "_paths")
SENTINELS = {"shadow_model": ("mirror",)}  # values PEFT reads as a mode, not a path
PATTERN_FIELDS = frozenset(  # module names and regexes, never opened as files
    {"target_modules", "exclude_modules", "modules_to_save", "layers_pattern", "target_parameters"}
)
FOLLOWED_ELSEWHERE = frozenset({"base_model_name_or_path"})  # resolve_base confines it (and --base overrides it)
MAX_DEPTH = 32


def confined_config(data: dict[str, Any], folder: Path, label: str) -> dict[str, Any]:
    """`data` (adapter_config.json) with every path-like field replaced by the absolute path it
    is allowed to name; a ModelError naming the field when it names anything else."""
    return _walk(data, folder, label, "", 0)


def _walk(value: Any, folder: Path, label: str, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ModelError(f"{label}: adapter_config.json nests deeper than {MAX_DEPTH} levels at {where}")
    if isinstance(value, dict):
        return {k: _field(k, v, folder, label, f"{where}.{k}" if where else str(k), depth) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, folder, label, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    return value


def _field(key: Any, value: Any, folder: Path, label: str, where: str, depth: int) -> Any:
    name = str(key)
    if name in FOLLOWED_ELSEWHERE or name in PATTERN_FIELDS:
        return value
    if isinstance(value, str) and _is_path_like(name, value):
        return _confined(value, folder, label, where)
    if isinstance(value, list) and name.endswith(PATH_SUFFIXES):
        return [_confined(v, folder, label, f"{where}[{i}]") if isinstance(v, str) else v for i, v in enumerate(value)]
    return _walk(value, folder, label, where, depth + 1)


def _is_path_like(name: str, value: str) -> bool:
    if not value.strip() or value in SENTINELS.get(name, ()):
        return False
    if name.endswith(PATH_SUFFIXES):
        return True
    parts = value.replace("\\", "/").split("/")
    return value.startswith(("/", "~", "\\")) or ".." in parts


def _confined(value: str, folder: Path, label: str, where: str) -> str:
    inside = folder / value
    if stays_inside(value) and os.path.lexists(inside):
        if not resolves_inside(inside, folder):
            raise _refused(label, where, value, "leads out of the adapter's folder")
        if not _regular_or_folder(inside):
            raise _refused(label, where, value, "is not a regular file or a folder")
        if inside.is_dir():  # a tokenizer's folder: its files may not lead out either
            confine(inside, folder, f"{label} ({where})")
        return str(inside.absolute())
    snapshot = cached_repo_snapshot(value) if is_repo_id(value) else None
    if snapshot is None:
        raise _refused(label, where, value, "is neither inside the adapter's folder nor a repo id in the local cache")
    confine(snapshot, expected_cache_dir(value), f"{label} ({where})")
    return str(snapshot)


def _regular_or_folder(path: Path) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode)


def _refused(label: str, where: str, value: str, why: str) -> ModelError:
    return ModelError(
        f"{label}: adapter_config.json's {where} {quoted(value)} {why}; refused (freezekit follows a path an "
        "adapter names only inside its folder or in the local Hugging Face cache)"
    )
