"""Files the user named: checked before any work, and small text files (config, manifest) read
bounded, as UTF-8, with one clear error."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError, FreezekitError, shortened_path


def read_text(path: str | os.PathLike, max_bytes: int, what: str) -> str:
    """The file's text, or a ConfigError naming the file: missing, a folder, unreadable, too big, not UTF-8."""
    if not str(path).strip():  # Path("") is ".", which would be reported as a folder
        raise ConfigError(f"the {what} path is empty")
    path = Path(path)
    try:
        if path.is_dir():
            raise ConfigError(f"{shortened_path(path)}: is a directory, not a {what}")
        size = path.stat().st_size
        if size > max_bytes:
            raise ConfigError(
                f"{shortened_path(path)}: {size:,} bytes is over the {max_bytes:,}-byte limit for a {what}"
            )
        with open(path, "rb") as f:  # bounded: a pipe or a device (/dev/zero) has no size to check first
            raw = f.read(max_bytes + 1)
        if len(raw) > max_bytes:
            raise ConfigError(f"{shortened_path(path)}: more than {max_bytes:,} bytes, over the limit for a {what}")
    except FileNotFoundError as exc:
        raise ConfigError(f"{shortened_path(path)}: no such {what}") from exc
    except PermissionError as exc:
        raise ConfigError(f"{shortened_path(path)}: permission denied") from exc
    except OSError as exc:
        raise ConfigError(f"{shortened_path(path)}: cannot read: {exc.strerror or exc}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shortened_path(path)}: not UTF-8 text (byte {exc.start})") from exc


def check_input_file(path: str | os.PathLike, what: str, error: type[FreezekitError]) -> Path:
    """The path as a regular file, or `error` saying why not (empty path, missing, a folder, a device)."""
    if not str(path).strip():
        raise error(f"the {what} path is empty")
    p = Path(path)
    if not p.exists():
        raise error(f"{shortened_path(p)}: no such file")
    if p.is_dir():
        raise error(f"{shortened_path(p)}: is a directory, not a {what}")
    if not p.is_file():
        raise error(f"{shortened_path(p)}: is not a regular file (a device or a pipe?), not a {what}")
    return p
