"""Writes that are complete or never happened: temp file in the same folder, fsync, rename.

A process killed mid-write leaves at most a hidden temp file beside the
destination, never a damaged destination; the next successful write of the
same destination sweeps such leftovers whose writer is gone.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from .errors import OutputError

TMP_MARK = ".freezekit-tmp-"


SPECIAL_FOLDERS = ("/dev", "/proc", "/sys")  # devices and kernel files: never replaced by a regular file


def check_destination(path: str | os.PathLike, force: bool = False, inputs: tuple[str, ...] = ()) -> Path:
    """Refuse, before any work is done, a destination that cannot or must not be written."""
    dest = Path(path)
    if not str(path).strip():
        raise OutputError("the output path is empty")
    _refuse_special(dest)
    if dest.is_dir():
        raise OutputError(f"{dest}: is a directory; give a file name")
    if os.path.lexists(dest) and not _regular_or_link_to_regular(dest):
        raise OutputError(
            f"{dest}: exists and is not a regular file (a device, a pipe or a socket); "
            "freezekit replaces only regular files, --force or not"
        )
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
    if os.path.lexists(dest) and not force:
        raise OutputError(f"{dest}: already exists; pass --force to overwrite it")
    return dest


def _refuse_special(dest: Path) -> None:
    """/dev/stdout, /dev/null, /proc/...: a rename would replace the device node or link itself
    (as root it can), so such names are refused whatever the file they lead to."""
    for candidate in (*_link_chain(dest), os.path.realpath(dest)):
        if any(candidate == d or candidate.startswith(d + os.sep) for d in SPECIAL_FOLDERS):
            raise OutputError(f"{dest}: is a device or kernel path; write to a regular file instead")


def _link_chain(dest: Path, max_hops: int = 40) -> list[str]:
    """The path and every symbolic link hop it goes through (`out.json -> /dev/stdout ->
    /proc/self/fd/1 -> ...`): the final target alone can look like an ordinary file."""
    chain, current = [], os.path.abspath(dest)
    for _ in range(max_hops):
        chain.append(current)
        try:
            target = os.readlink(current)
        except OSError:  # not a link (or gone): the chain ends here
            break
        current = os.path.normpath(os.path.join(os.path.dirname(current), target))
    return chain


def _regular_or_link_to_regular(dest: Path) -> bool:
    """A regular file, or a symbolic link whose target is one (the rename replaces the link itself,
    never the file it points to). A dangling link counts as absent."""
    try:
        return stat.S_ISREG(os.stat(dest).st_mode)
    except FileNotFoundError:
        return os.path.islink(dest)
    except OSError:
        return False


def check_distinct(outputs: dict[str, str | None]) -> None:
    """Two outputs of one command naming the same file (`--manifest r.svg --export r.svg`, or two
    spellings of it, or a link to it) would overwrite each other: refuse before anything is written."""
    seen: dict[str, str] = {}
    for flag, path in outputs.items():
        if path is None or not str(path).strip():
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise OutputError(f"{path}: {seen[key]} and {flag} name the same file; give each its own")
        seen[key] = flag


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


def new_file_mode() -> int:
    """0o666 less the umask: the mode any file the user creates gets (safetensors' writer makes
    0600 files of its own accord; every output is brought to this before it is renamed into place)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:  # reads the umask without changing it
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while a few renames run, then deliver them: a pair of outputs is never
    left half-replaced by Ctrl-C. (Python runs signal handlers in the main thread only; elsewhere
    the signals cannot be held and the rollback in `_commit` is what keeps the pair whole.)"""
    held: list[int] = []
    previous: dict[signal.Signals, object] = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: held.append(signum))
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for sig, handler in previous.items():  # None: a handler not set from Python; the default is closest
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # type: ignore[arg-type]
        if held:
            signal.raise_signal(held[0])  # now handled as it would have been: KeyboardInterrupt, or exit


def _tmp_for(dest: Path) -> Path:
    return dest.parent / f".{dest.name}{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"


def _commit(pairs: list[tuple[Path, Path]]) -> None:
    """Rename every temp file onto its destination, all or none: when a rename fails (or is
    interrupted), the ones already done are undone from hard-linked copies of the old files."""
    done: list[tuple[Path, Path | None]] = []
    backups: list[Path] = []
    pending: tuple[Path, Path | None] | None = None
    try:
        with signals_deferred():
            try:
                for tmp, dest in pairs:
                    backup = None
                    if len(pairs) > 1 and os.path.lexists(dest):
                        backup = tmp.with_name(tmp.name + "-old")
                        backups.append(backup)
                        try:
                            os.link(dest, backup, follow_symlinks=False)
                        except OSError:  # no hard links here: move the old file aside instead
                            os.replace(dest, backup)
                    pending = (dest, backup)
                    os.replace(tmp, dest)
                    done.append(pending)
                    pending = None
            except BaseException:
                if pending is not None and pending[1] is not None and not os.path.lexists(pending[0]):
                    with contextlib.suppress(OSError):  # moved aside, never replaced: put it back
                        os.replace(pending[1], pending[0])
                for dest, backup in reversed(done):
                    with contextlib.suppress(OSError):
                        if backup is not None:
                            os.replace(backup, dest)
                        else:
                            dest.unlink()
                raise
    finally:
        for backup in backups:
            with contextlib.suppress(OSError):
                backup.unlink()


@contextlib.contextmanager
def atomic_paths(paths: Sequence[str | os.PathLike], force: bool = False) -> Iterator[list[Path]]:
    """Yield one temp path per destination; when the block succeeds, all replace their destinations
    together (see `_commit`), with the mode a new file of the user's gets. On any error or
    interrupt, no destination changes."""
    dests = [check_destination(p, force) for p in paths]
    tmps = [_tmp_for(d) for d in dests]
    try:
        yield tmps
        mode = new_file_mode()
        for tmp in tmps:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
                os.fchmod(fh.fileno(), mode)
        _commit(list(zip(tmps, dests)))
    except BaseException:
        for tmp in tmps:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    for folder in {d.parent for d in dests}:
        with contextlib.suppress(OSError):
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    for dest in dests:
        sweep_stale(dest)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Yield a temp path to write; on success it replaces `path` atomically."""
    with atomic_paths([path], force) as (tmp,):
        yield tmp


def write_text(path: str | os.PathLike, text: str, force: bool = False) -> None:
    try:
        with atomic_path(path, force) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from exc
