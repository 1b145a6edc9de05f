"""Installed versions of freezekit, torch and torchvision, read from package metadata: no import."""

from __future__ import annotations

from importlib import metadata


def versions(extra: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Installed versions from package metadata (no import of torch needed); `extra` adds the
    libraries a source builds with (timm, transformers, peft)."""
    out: dict[str, str | None] = {}
    for name in ("freezekit", "torch", "torchvision", *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
