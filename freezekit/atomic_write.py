"""Writes that are complete or never happened: temp file in the same folder, fsync, rename.

A process killed mid-write leaves at most a hidden temp file beside the
destination, never a damaged destination; the next successful write of the
same destination sweeps such leftovers whose writer is gone.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Iterator

from .errors import OutputError

TMP_MARK = ".freezekit-tmp-"


def check_destination(path: str | os.PathLike, force: bool = False, inputs: tuple[str, ...] = ()) -> Path:
    """Refuse, before any work is done, a destination that cannot or must not be written."""
    dest = Path(path)
    if not str(path).strip():
        raise OutputError("the output path is empty")
    if dest.is_dir():
        raise OutputError(f"{dest}: is a directory; give a file name")
    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.is_dir():
        if parent.exists():
            raise OutputError(f"{dest}: {parent} is a file, not a folder")
        raise OutputError(f"{dest}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{dest}: no permission to write in {parent}")
    _probe(dest, parent)
    for other in inputs:
        if other and Path(other).exists() and dest.exists() and os.path.samefile(other, dest):
            raise OutputError(f"{dest}: is also an input of this command; write somewhere else")
    if dest.exists() and not force:
        raise OutputError(f"{dest}: already exists; pass --force to overwrite it")
    return dest


def _probe(dest: Path, parent: Path) -> None:
    """Create and remove a temp file beside `dest`: the one test that the write will be allowed.

    os.access cannot tell: root passes it everywhere, and folders like /proc or a read-only
    mount refuse files whatever the mode bits say. Failing here, before any work, means a
    command with several outputs never writes the first and then fails on the second.
    """
    probe = parent / f".{dest.name}{TMP_MARK}{os.getpid()}-probe-{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise OutputError(f"{dest}: cannot create a file in {parent}: {exc.strerror or exc}") from exc
    os.close(fd)
    with contextlib.suppress(OSError):
        probe.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(dest: Path) -> None:
    """Remove temp files left beside `dest` by writers that were killed."""
    prefix = f".{dest.name}{TMP_MARK}"
    for leftover in dest.parent.glob(prefix + "*"):
        pid_text = leftover.name[len(prefix) :].split("-", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            with contextlib.suppress(OSError):
                leftover.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Yield a temp path to write; on success it replaces `path` atomically."""
    dest = check_destination(path, force)
    tmp = dest.parent / f".{dest.name}{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):
        fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    sweep_stale(dest)


def write_text(path: str | os.PathLike, text: str, force: bool = False) -> None:
    try:
        with atomic_path(path, force) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from exc
