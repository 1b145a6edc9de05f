"""The model names of `freezekit models`, for shell completion: read once from torchvision, then
from a small cache file keyed on the installed torchvision version (a TAB must not import torch)."""

from __future__ import annotations

import json

from ..core.installed import versions


def model_names() -> list[str]:
    from ..atomic_write import write_text
    from .cache_trust import folder_doubt
    from .inventory_cache import cache_dir

    path = cache_dir() / f"models-torchvision-{versions().get('torchvision') or 'none'}.json"
    private = folder_doubt(cache_dir()) is None  # a folder others can write: neither read nor written
    try:
        names = json.loads(path.read_text(encoding="utf-8")) if private else None
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return names
    except (OSError, ValueError):
        pass  # absent or damaged: rebuild
    from ..adapter.zoo import list_models

    names = list_models()
    if not private:
        return names
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(str(path), json.dumps(names), force=True)
    except Exception:  # noqa: BLE001 - a cache that cannot be written only costs time
        pass
    return names
