"""Hugging Face library calls run offline unless the user passed --download. Pure: no torch.

A file may name a repo id (an adapter's tokenizer, a shadow model): transformers, peft and
huggingface_hub would fetch it, retrying for a minute when the network is down. `offline(True)`
sets HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE for the block, and huggingface_hub's own flag (read
once, at its import) when it is already imported; everything is restored afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


@contextlib.contextmanager
def offline(enabled: bool = True) -> Iterator[None]:
    """No network for the hub libraries inside the block when `enabled` (a no-op otherwise)."""
    if not enabled:
        yield
        return
    saved = {name: os.environ.get(name) for name in VARIABLES}
    constants = sys.modules.get("huggingface_hub.constants")
    flag = getattr(constants, "HF_HUB_OFFLINE", None)
    os.environ.update(dict.fromkeys(VARIABLES, "1"))
    if constants is not None:
        constants.HF_HUB_OFFLINE = True  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        constants = sys.modules.get("huggingface_hub.constants")  # imported inside the block, perhaps
        if constants is not None:
            constants.HF_HUB_OFFLINE = flag if flag is not None else _from_environment()  # type: ignore[attr-defined]


def _from_environment() -> bool:
    """What huggingface_hub would have read at import, had it been imported outside the block."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.upper() in ("1", "ON", "YES", "TRUE")
