"""Whether the inventory cache can be believed: a cache folder or entry another user could have
written is not read (as ssh refuses a group-writable key and pip a foreign cache), and every entry
carries a SHA-256 of its content, so an entry edited by hand or damaged on disk is rebuilt.

The checksum is not a signature: whoever can write the folder can recompute it. That is why the
ownership and mode checks come first; a cache shared between users, or restored from an archive
or a CI cache of unknown origin, should not be trusted at all: --no-cache, or a private
$FREEZEKIT_CACHE_DIR (docs/security.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

GROUP_OR_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH
ADVICE = "a cache others can write may lie about shapes: use a private FREEZEKIT_CACHE_DIR, or --no-cache"


def doubt(st: os.stat_result, path: Path) -> str | None:
    """Why a file or folder with this stat could have been written by someone else, or None."""
    if not hasattr(os, "getuid"):  # no POSIX owners (Windows): the folder's ACLs decide
        return None
    if st.st_uid != os.getuid():
        return f"inventory cache ignored: {path} is owned by uid {st.st_uid}, not by you; {ADVICE}"
    if st.st_mode & GROUP_OR_OTHERS_WRITE:
        mode = stat.S_IMODE(st.st_mode)
        return f"inventory cache ignored: {path} is writable by group or others (mode {mode:o}); {ADVICE}"
    return None


def folder_doubt(folder: Path) -> str | None:
    """`doubt` for the cache folder; None when it does not exist yet (freezekit creates it private)."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return doubt(st, folder)


def checksum(fields: dict[str, Any]) -> str:
    """SHA-256 of an entry's fields (all but the checksum itself) as the cache writes them."""
    return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()


def checksum_matches(entry: dict[str, Any], key: str = "sha256") -> bool:
    """Whether a parsed entry's checksum is the one its other fields (in file order) give."""
    rest = {k: v for k, v in entry.items() if k != key}
    return isinstance(entry.get(key), str) and entry[key] == checksum(rest)
