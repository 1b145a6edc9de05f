"""Open only regular files, and read them with a cap. Pure: no torch.

A path someone else handed over may name a FIFO (opening it blocks until a writer comes), a
device (/dev/zero never ends), or a folder. `open_regular` looks before it touches: `stat`
(which never blocks) must say "regular file", the open is non-blocking, and `fstat` on the open
descriptor must say so again (the path may have been swapped in between). Then every read is
capped, so a file that grows while we read it cannot make us allocate without bound.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from .errors import FreezekitError, shortened_path

MAX_FACTORY_BYTES = 16 << 20  # a `file.py:callable` factory's file: bigger than this is not a model builder


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | os.PathLike, what: str, error: type[FreezekitError]) -> BinaryIO:
    """`path` opened for binary reading, or `error` saying why not; never blocks, never opens a non-regular file."""
    if not str(path).strip():
        raise error(f"the {what} path is empty")
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise error(f"{shortened_path(path)}: no such file") from exc
    except OSError as exc:
        raise error(f"{shortened_path(path)}: cannot be read: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{shortened_path(path)}: is a directory, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{shortened_path(path)}: is {_kind(st.st_mode)}, not a {what}; refused without reading it")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{shortened_path(path)}: cannot be read: {exc.strerror or exc}") from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):  # swapped after the stat above
        os.close(fd)
        raise error(f"{shortened_path(path)}: is {_kind(mode)}, not a {what}; refused without reading it")
    return os.fdopen(fd, "rb")


def refuse_special(path: str | os.PathLike, what: str, error: type[FreezekitError]) -> None:
    """Refuse a path that exists and is a FIFO, a device or a socket (a folder or a missing file is left
    to the reader's own message)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise error(f"{shortened_path(path)}: is {_kind(mode)}, not a {what}; refused without reading it")


def read_regular(path: str | os.PathLike, max_bytes: int, what: str, error: type[FreezekitError]) -> bytes:
    """The whole content of a regular file of at most `max_bytes`, or `error`."""
    with open_regular(path, what, error) as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise error(f"{shortened_path(path)}: {size:,} bytes is over the {max_bytes:,}-byte limit for a {what}")
        try:
            data = f.read(max_bytes + 1)
        except OSError as exc:
            raise error(f"{shortened_path(path)}: cannot be read: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # grew while we read it
        raise error(f"{shortened_path(path)}: more than {max_bytes:,} bytes, over the limit for a {what}")
    return data


def is_regular(path: str | os.PathLike) -> bool:
    """Whether `path` is a regular file (following links); False for anything that cannot be stat'ed."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def stays_inside(relative: str) -> bool:
    """Whether `relative`, a path read from a file, stays inside that file's folder (judged from the text alone:
    not absolute, no '..' that climbs out). Links inside the folder are the folder owner's choice."""
    if not relative or os.path.isabs(relative) or "\0" in relative:
        return False
    normal = os.path.normpath(relative)
    return normal != ".." and not normal.startswith(".." + os.sep) and not os.path.isabs(normal)


def resolves_inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether `path`, every symbolic link followed, ends inside `folder` (also followed), or is it."""
    real, root = os.path.realpath(path), os.path.realpath(folder)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)
