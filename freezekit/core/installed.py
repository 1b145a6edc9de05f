"""Installed versions of freezekit, torch and torchvision, read from package metadata: no import."""

from __future__ import annotations

from importlib import metadata


def versions() -> dict[str, str | None]:
    """Installed versions from package metadata (no import of torch needed)."""
    out: dict[str, str | None] = {}
    for name in ("freezekit", "torch", "torchvision"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
