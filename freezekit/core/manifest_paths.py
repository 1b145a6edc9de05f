"""Paths a manifest records stay inside the manifest's folder (STYLE.md, Trust boundaries). Pure: no torch.

A manifest is someone else's file: `"weights_file": "/etc/passwd"` must not make `check` open it.
check refuses an absolute path, a `..` that climbs out, and a link that leads out (judged after
resolving symlinks), and resolves a relative path against the manifest's folder, not the working
folder; freeze records paths relative to that folder so that the two agree.
"""

from __future__ import annotations

import os

from ..bounded_read import stays_inside
from ..errors import ConfigError, quoted


def resolve_in_manifest_folder(manifest_path: str, key: str, value: str) -> str:
    """`value` (the manifest's `key`) joined to the manifest's folder; a ConfigError if it leads out."""
    folder = os.path.dirname(manifest_path)
    if os.path.isabs(value):
        raise ConfigError(
            f"{manifest_path}: {key} {quoted(value)} is an absolute path; a manifest's paths are relative "
            "to its folder: keep the file beside the manifest"
        )
    joined = os.path.join(folder, value)
    root = os.path.realpath(folder or ".")
    real = os.path.realpath(joined)
    if not stays_inside(value) or (real != root and not real.startswith(root.rstrip(os.sep) + os.sep)):
        raise ConfigError(
            f"{manifest_path}: {key} {quoted(value)} leaves the manifest's folder; "
            "a manifest's paths stay inside it: keep the file beside the manifest"
        )
    return joined


def relative_to_manifest_folder(manifest_path: str, path: str) -> str:
    """How freeze records `path` in a manifest: relative to its folder when inside it, else as given
    (check will refuse it, naming the key)."""
    relative = os.path.relpath(os.path.abspath(path), os.path.dirname(os.path.abspath(manifest_path)))
    return relative if stays_inside(relative) else path
