"""The launcher's network exposure and its children's lifetime (issue 20, classes 7 and 8).

- the runs freezekit spawns listen on 127.0.0.1 only (the rendezvous store and the collectives'
  sockets), read from each rank's own sockets in /proc;
- after a SIGKILL of the launcher, every process it started (fork server, ranks, resource tracker) is
  gone within seconds; a rank ends itself after its timeout; a rank ends when the launcher's pipe closes.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from freezekit.distributed import lifetime
from freezekit.distributed.launch import launch

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK_V4 = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it
LOOPBACK_V6 = "00000000000000000000000001000000"  # ::1


def listening_addresses(pid: int) -> list[str]:
    """'ADDRESS:PORT' (hex, as /proc/net/tcp{,6} write them) of every socket `pid` listens on."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:[") : -1])
    found = []
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                found.append(fields[1])
    return found


def _sockets_after_a_collective(rank: int, world_size: int, payload: None) -> list[str]:
    import torch
    import torch.distributed as dist

    value = torch.ones(1)
    dist.all_reduce(value)  # the collectives' connections are up
    return [f"{value.item():g}", f"{int(os.environ['MASTER_PORT']):04X}", *listening_addresses(os.getpid())]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ranks_listen_on_loopback_only():
    outcomes = launch(_sockets_after_a_collective, None, 2, timeout_s=60)
    assert [o.ok for o in outcomes] == [True, True], outcomes
    assert [o.value[0] for o in outcomes] == ["2", "2"]
    store_port = outcomes[0].value[1]
    assert f"{LOOPBACK_V4}:{store_port}" in outcomes[0].value[2:]  # rank 0's store serves on the launcher's socket
    addresses = [a for o in outcomes for a in o.value[2:]]
    assert all(a.split(":")[0] in (LOOPBACK_V4, LOOPBACK_V6) for a in addresses), addresses


def _hang_forever(rank: int, world_size: int, folder: str) -> None:
    Path(folder, f"pid{rank}").write_text(str(os.getpid()))
    while True:
        time.sleep(1)


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return {p for p in pids if _alive(p)}


LAUNCHER = """
import sys
from freezekit.distributed.launch import launch
from tests.distributed.test_launcher_lifetime import _hang_forever
launch(_hang_forever, sys.argv[1], 2, timeout_s=300)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal and /proc")
def test_every_child_dies_with_a_sigkilled_launcher(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(tmp_path)], cwd=ROOT)
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all((tmp_path / f"pid{r}").exists() for r in range(2)):
            assert parent.poll() is None, "the launcher ended before its ranks started"
            time.sleep(0.05)
        children = _descendants(parent.pid)
        ranks = {int((tmp_path / f"pid{r}").read_text()) for r in range(2)}
        assert ranks <= children and len(children) >= 3  # the fork server and the ranks, at least
        parent.kill()
        parent.wait(10)
        assert _wait_gone(children, 5) == set()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


ALARMED = """
import time
from freezekit.distributed import lifetime
lifetime.ALARM_MARGIN_S = 0
lifetime.end_after(1)
time.sleep(30)
"""


def test_a_rank_ends_itself_after_its_timeout():
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", ALARMED], cwd=ROOT, timeout=20)
    assert done.returncode == -signal.SIGALRM
    assert time.monotonic() - started < 10


def _watching(reader, writer) -> None:
    writer.close()  # forked: the launcher's end must stay the launcher's only
    lifetime.watch_launcher(reader)
    time.sleep(30)


def test_a_rank_ends_when_the_launchers_pipe_closes():
    ctx = mp.get_context("fork")
    reader, writer = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_watching, args=(reader, writer), daemon=True)
    child.start()
    try:
        reader.close()
        time.sleep(0.2)
        assert child.is_alive()
        writer.close()
        child.join(5)
        assert child.exitcode == -signal.SIGKILL
    finally:
        if child.is_alive():
            child.kill()
            child.join(5)
