"""Crash safety of freezekit.atomic_write: a writer killed with SIGKILL at any moment leaves the
destination byte-identical to the old content or to the complete new content, never a mix;
the next successful write sweeps the temp files the killed writers left.

Each round starts a fresh interpreter that imports only freezekit.atomic_write (no torch), so
100 rounds of a 32 MiB write fit well under a minute on two cores (about 13 s measured).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from freezekit.atomic_write import TMP_MARK, atomic_path, write_text

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

SIZE = 32 << 20  # 32 MiB
CHUNK = 1 << 20
ROUNDS = 100
FILLS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # one distinct byte per content; ASCII, so write_text writes it as is

# The child: argv[1] is a JSON job. It reports "ready" on stdout once imported, then writes.
# `die` makes it SIGKILL itself at an exact point: after chunk N of the data, at the fsync of the
# temp file (before the rename), or at the fsync of the folder (after the rename).
CHILD = r"""
import json, os, signal, sys
from freezekit import atomic_write

job = json.loads(sys.argv[1])
die = job["die"]
fsyncs = [0]
real_fsync = os.fsync

def fsync(fd):
    fsyncs[0] += 1
    if die == f"fsync{fsyncs[0]}":
        os.kill(os.getpid(), signal.SIGKILL)
    real_fsync(fd)

os.fsync = fsync
sys.stdout.write("ready\n")
sys.stdout.flush()
fill = job["fill"].encode()
if job["mode"] == "text":
    atomic_write.write_text(job["dest"], job["fill"] * job["size"], force=True)
else:
    with atomic_write.atomic_path(job["dest"], force=True) as tmp:
        with open(tmp, "wb") as f:
            chunk = fill * job["chunk"]
            for i in range(job["size"] // job["chunk"]):
                f.write(chunk)
                if die == f"chunk{i}":
                    f.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
"""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: Path, dest: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{dest.name}{TMP_MARK}"))


def test_sigkill_at_any_moment_leaves_old_or_new_content(tmp_path):
    start = time.monotonic()
    rng = random.Random(20240601)
    dest = tmp_path / "weights.bin"
    expected = {fill: digest(bytes([fill]) * SIZE) for fill in FILLS}
    dest.write_bytes(bytes([FILLS[0]]) * SIZE)
    current = FILLS[0]
    outcomes = {"old": 0, "new": 0}
    parent_kills = {"old": 0, "new": 0}  # the rounds where the parent's timer killed the child
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]),
    }
    for round_no in range(ROUNDS):
        new = FILLS[1 + round_no % (len(FILLS) - 1)]
        if new == current:
            new = FILLS[0]
        mode = "text" if round_no % 4 == 3 else "path"
        # half the rounds: the parent kills after a random 0-50 ms; the others: the child kills itself at a chosen point
        if round_no % 2 == 0:
            die = "none"
        else:
            die = rng.choice(
                [f"chunk{rng.randrange(SIZE // CHUNK)}", "fsync1", "fsync2"] if mode == "path" else ["fsync1", "fsync2"]
            )
        job = {"dest": str(dest), "fill": chr(new), "size": SIZE, "chunk": CHUNK, "mode": mode, "die": die}
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(job)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        assert child.stdout.readline() == b"ready\n", child.stderr.read().decode()
        if die == "none":
            time.sleep(rng.uniform(0, 0.050))
            child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=30)
        assert child.returncode in (0, -signal.SIGKILL), err.decode()
        data = dest.read_bytes()
        got = digest(data)
        where = f"round {round_no} ({mode}, die={die})"
        assert got in (expected[current], expected[new]), (
            f"{where}: destination is neither the old nor the new content "
            f"({len(data)} bytes, first {data[:1]!r} last {data[-1:]!r})"
        )
        if die == "fsync2":  # killed after the rename: the new content is in place
            assert got == expected[new], where
        elif die != "none":  # killed inside the data or before the rename: the old content stays
            assert got == expected[current], where
        if die == "none":
            parent_kills["new" if got == expected[new] else "old"] += 1
        if got == expected[new]:
            outcomes["new"] += 1
            current = new
        else:
            outcomes["old"] += 1
    # both outcomes happened, so the kills really landed before and after the rename
    assert outcomes["old"] >= 10 and outcomes["new"] >= 10, outcomes
    # a later successful write sweeps what the killed writers left behind
    with atomic_path(dest, force=True) as tmp:
        tmp.write_bytes(b"final")
    assert dest.read_bytes() == b"final"
    assert leftovers(tmp_path, dest) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.bin"]
    elapsed = time.monotonic() - start
    print(
        f"\n{ROUNDS} kill rounds of {SIZE >> 20} MiB: {elapsed:.1f} s, outcomes {outcomes}, parent kills {parent_kills}"
    )
    # (its run time, about 13 s here, is reported, not asserted: timing belongs to benchmarks/)


def test_sweep_keeps_temp_files_of_live_writers(tmp_path):
    """A temp file whose writer is still running (this process) is not swept; a dead writer's is."""
    dest = tmp_path / "m.json"
    live = tmp_path / f".m.json{TMP_MARK}{os.getpid()}-abcd1234"
    live.write_text("in progress")
    dead_pid = _dead_pid()
    dead = tmp_path / f".m.json{TMP_MARK}{dead_pid}-abcd1234"
    dead.write_text("killed")
    write_text(dest, "{}", force=True)
    assert live.exists() and not dead.exists() and dest.read_text() == "{}"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_failed_write_removes_its_temp_file_and_keeps_the_old_content(tmp_path):
    dest = tmp_path / "out.pt"
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(dest, force=True) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer failed")
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pt"]


def test_freeze_save_killed_mid_write_leaves_old_file_or_none(tmp_path):
    """`freezekit freeze resnet18 --save out.pt --force` killed mid-write: out.pt is the old file, whole."""
    out = tmp_path / "out.pt"
    out.write_bytes(b"old weights")
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "TORCH_HOME": str(tmp_path / "home"),
        "FREEZEKIT_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    code = (
        "import os, signal, torch\n"
        "real = torch.save\n"
        "def save(obj, f, *a, **k):\n"
        "    real(obj, f, *a, **k)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)  # the temp file is complete; the rename has not happened\n"
        "torch.save = save\n"
        "from freezekit.cli.app import app\n"
        f"app(['freeze', 'resnet18', '-p', 'layer1', '--save', {str(out)!r}, '--force', '-f', 'json'])\n"
    )
    child = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120, cwd=tmp_path)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert out.read_bytes() == b"old weights"
    stale = [p.name for p in tmp_path.iterdir() if p.name.startswith(f".out.pt{TMP_MARK}")]
    assert len(stale) == 1  # the killed writer's temp file, swept by the next write of out.pt
    write_text(out, "new", force=True)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.pt")] == []
