"""What the corpus cannot show with one stderr line: a pair committed whole under Ctrl-C, file
modes, files freezekit writes and reads back, a printing factory, a real signal while saving."""

from __future__ import annotations

import json
import os
import signal

import pytest

from freezekit.atomic_write import TMP_MARK
from freezekit.errors import ExitCode as X
from tests.cli.test_bad_inputs import TIED, write


def test_ctrl_c_between_the_renames_is_held_until_the_pair_is_in_place(cli, tmp_path, monkeypatch):
    """SIGINT arriving right after the first rename waits: both files are the new run's, then exit 130."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "out.safetensors", b"old weights")
    write(tmp_path, "m.json", "{}")
    real, renames = os.replace, []

    def replace(src, dst, **kw):
        real(src, dst, **kw)
        if TMP_MARK in str(src) and not renames:
            renames.append(dst)
            os.kill(os.getpid(), signal.SIGINT)  # delivered between the first rename and the second

    monkeypatch.setattr(os, "replace", replace)
    code, _, err = cli("freeze", TIED, "-p", "body", "--save", "out.safetensors", "--manifest", "m.json", "--force")
    assert code == X.INTERRUPTED and err.strip() == "freezekit: error: interrupted by SIGINT", err
    from safetensors import safe_open

    with safe_open(tmp_path / "out.safetensors", "pt") as f:
        embedded = json.loads(f.metadata()["freezekit_manifest"])
    assert embedded == json.loads((tmp_path / "m.json").read_text())  # one run wrote both
    assert embedded["frozen"] == ["body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "out.safetensors"]


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_saved_files_get_the_mode_of_any_new_file(cli, tmp_path, monkeypatch, umask):
    monkeypatch.chdir(tmp_path)
    previous = os.umask(umask)
    try:
        code, _, err = cli("freeze", TIED, "--save", "w.safetensors", "--manifest", "m.json")
        code_pt, _, _ = cli("freeze", TIED, "--save", "w.pt")
    finally:
        os.umask(previous)
    assert code == code_pt == 0, err
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(["w.safetensors", "m.json", "w.pt"], 0o666 & ~umask)


@pytest.mark.parametrize("dtype", ["float8_e8m0fnu", "float4_e2m1fn_x2"])
@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_odd_dtypes_are_saved_and_read_back_with_their_bytes(cli, tmp_path, monkeypatch, dtype, suffix):
    monkeypatch.chdir(tmp_path)
    model = (
        write(
            tmp_path,
            "odd.py",
            "import torch\nfrom torch import nn\n\n\ndef build():\n    m = nn.Linear(2, 3)\n"
            f"    m.weight = nn.Parameter(torch.zeros(3, 2, dtype=torch.uint8).view(torch.{dtype}), False)\n"
            "    return m\n",
        )
        + ":build"
    )
    code, _, err = cli("freeze", model, "--save", "w" + suffix)
    assert code == 0, err
    code, out, err = cli("count", "w" + suffix, "-f", "json")
    assert code == 0, err
    totals = json.loads(out)["totals"]
    # weight: 3 x 2 elements of one byte each (float4_e2m1fn_x2: two 4-bit values per byte); bias: 3 float32
    assert (totals["total"], totals["bytes_by_dtype"]) == (9, {"float32": 12, dtype: 6})
    code, out, _ = cli("count", model, "-f", "json", "--no-cache")
    assert json.loads(out)["totals"]["bytes_by_dtype"] == {"float32": 12, dtype: 6}  # the live model agrees


def test_a_factory_that_prints_keeps_json_on_stdout(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = (
        write(
            tmp_path,
            "loud.py",
            "from torch import nn\nprint('importing')\n\n\ndef build():\n"
            "    print('building')\n    return nn.Linear(2, 2)\n",
        )
        + ":build"
    )
    code, out, err = cli("count", model, "-f", "json", "--no-cache")
    assert code == 0
    assert json.loads(out)["totals"]["total"] == 6
    assert err.splitlines() == ["importing", "building"]


SLOW_SAVE = '''
import pathlib, time
from torch import nn


class SlowToSave(nn.Linear):
    """Saving calls state_dict(): it says so on a marker file, then takes its time."""

    def state_dict(self, *args, keep_vars=False, **kwargs):
        if not keep_vars:  # the writer's call (the checks before it pass keep_vars=True)
            pathlib.Path("saving").touch()
            time.sleep(60)
        return super().state_dict(*args, keep_vars=keep_vars, **kwargs)


def build():
    return SlowToSave(2, 2)
'''


@pytest.mark.parametrize(
    "sig, line", [(signal.SIGTERM, "terminated by SIGTERM"), (signal.SIGINT, "interrupted by SIGINT")]
)
def test_a_real_signal_while_saving_exits_130_and_leaves_the_old_pair(tmp_path, sig, line):
    """The console script, end to end: a signal in the middle of --save removes the temp files,
    keeps the old pair byte for byte, and says so in one line."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    write(tmp_path, "slow.py", SLOW_SAVE)
    write(tmp_path, "out.pt", b"old weights")
    write(tmp_path, "m.json", "{}")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "freezekit",
            "freeze",
            "slow.py:build",
            "--save",
            "out.pt",
            "--manifest",
            "m.json",
            "--force",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "saving").exists():
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.05)
    child.send_signal(sig)
    _, err = child.communicate(timeout=60)
    assert child.returncode == X.INTERRUPTED, err
    assert err.strip().splitlines() == [f"freezekit: error: {line}"]
    (tmp_path / "saving").unlink()
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir() if p.name != "__pycache__"}
    assert after == before  # no temp file left, the old pair untouched
