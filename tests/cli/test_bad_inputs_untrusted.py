"""The hostile-input corpus, continued: files someone else handed over (issue 9, sections 1, 2, 3, 6).

Same contract as tests/test_bad_inputs.py (exit code, one stderr line, no traceback, nothing
written), plus: the marker file a payload would create (`pwned`) never exists, because no code
named by a file ran. Builders that make a FIFO arm a watchdog that unblocks a reader stuck on it
after a few seconds, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
import zipfile

import pytest

from freezekit.errors import ExitCode as X
from tests.cli.test_bad_inputs import (
    MARKER,
    TIED,
    Builder,
    F32x2,
    Malicious,
    link,
    safetensors_file,
    snapshot,
    tiny_state_dict,
    torch_save,
    write,
)

TOUCH = f"touch {MARKER}"  # the shell payload: creates the marker in the case's folder
RESNET18_DEFAULT = "resnet18-f37072fd.pth"  # the hub-cache file name of ResNet18_Weights.DEFAULT


def manifest(source: str, args: dict | None = None, weights: str | None = None, **changes) -> str:
    doc = {
        "schema": "freezekit.manifest",
        "schema_version": 1,
        "model": {"source": source, "kind": "factory", "weights": weights, "weights_file": None, "args": args or {}},
        "default": "trainable",
        "rules": [],
        "frozen": [],
        "fingerprint": "sha256:0",
        "parameters": {},
        "versions": {},
    }
    doc.update(changes)
    return json.dumps(doc)


def check_manifest(source: str, args: dict | None = None, *extra: str, **changes) -> Builder:
    return lambda t, m: ["check", write(t, "lock.json", manifest(source, args, **changes)), *extra]


EVIL_PY = f"import pathlib\npathlib.Path({MARKER!r}).touch()\n\ndef build():\n    return None\n"


WATCHDOGS: list[tuple[threading.Timer, threading.Event]] = []


def fifo(tmp: pathlib.Path, name: str) -> str:
    """A named pipe; after 20 s a watchdog opens and closes its other end, so a reader blocked on it
    gets end-of-file and the test fails (see `_no_reader_blocked`) instead of hanging the suite."""
    path = tmp / name
    os.mkfifo(path)
    fired = threading.Event()

    def unblock() -> None:
        fired.set()
        try:
            os.close(os.open(path, os.O_RDWR))
        except OSError:
            pass

    timer = threading.Timer(20, unblock)
    timer.daemon = True
    timer.start()
    WATCHDOGS.append((timer, fired))
    return name


@pytest.fixture(autouse=True)
def _no_reader_blocked():
    """Fails a test during which a FIFO's watchdog had to unblock a reader: something opened the FIFO."""
    WATCHDOGS.clear()
    yield
    for timer, _ in WATCHDOGS:
        timer.cancel()
    assert not any(fired.is_set() for _, fired in WATCHDOGS), "a read blocked on a FIFO until the watchdog freed it"


def poisoned_hub(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> None:
    """A TORCH_HOME whose hub cache holds ResNet18's DEFAULT file, replaced by a pickle that runs code."""
    import torch

    home = tmp / "torch_home"
    (home / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(
        {"conv1.weight": torch.zeros(1), "boom": Malicious(str(tmp / MARKER))},
        home / "hub" / "checkpoints" / RESNET18_DEFAULT,
    )
    mp.setenv("TORCH_HOME", str(home))


def _weights_default_poisoned(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> list:
    poisoned_hub(tmp, mp)
    return ["count", "resnet18", "--weights", "DEFAULT"]


def _weights_default_poisoned_trusted(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> list:
    poisoned_hub(tmp, mp)  # --trust-pickle allows unpickling, not unpickling a file other than the published one
    return ["count", "resnet18", "--weights", "DEFAULT", "--trust-pickle"]


def _check_weights_default_poisoned(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> list:
    poisoned_hub(tmp, mp)
    doc = manifest("resnet18", weights="DEFAULT")
    return ["check", write(tmp, "lock.json", doc.replace('"kind": "factory"', '"kind": "torchvision"'))]


def zip_bomb(tmp: pathlib.Path, name: str) -> str:
    """A real torch.save checkpoint plus one deflated entry declaring 8 MiB: about 30 KB on disk."""
    torch_save(tmp, name, tiny_state_dict())
    with zipfile.ZipFile(tmp / name, "a", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{z.namelist()[0].split('/')[0]}/padding", b"\0" * (8 << 20))
    return name


def _index_two_shards_over_budget(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> list:
    from freezekit.sources import safetensors_header

    a = safetensors_file(tmp, "a.safetensors", {"a.w": F32x2})
    b = safetensors_file(tmp, "b.safetensors", {"b.w": F32x2})
    header_bytes = len(json.dumps({"a.w": F32x2}))
    mp.setattr(safetensors_header, "MAX_INDEX_HEADERS_BYTES", 2 * header_bytes - 1)
    return ["count", write(tmp, "m.safetensors.index.json", json.dumps({"weight_map": {"a.w": a, "b.w": b}}))]


def _index_shard_outside(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> list:
    safetensors_file(tmp, "outside.safetensors", {"a.w": F32x2})  # a real checkpoint: reading it would succeed
    (tmp / "model").mkdir()
    return [
        "count",
        write(tmp, "model/m.safetensors.index.json", json.dumps({"weight_map": {"a.w": "../outside.safetensors"}})),
    ]


def _check_file_factory(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> list:
    write(tmp, "evil.py", EVIL_PY)  # importing it creates the marker
    return ["check", write(tmp, "lock.json", manifest("evil.py:build")), "--format", "json"]


def _index_shard_not_a_checkpoint(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> list:
    write(tmp, "secret.safetensors", "root:x:0:0:root:/root:/bin/bash\n")  # its first 8 bytes must not be echoed
    return ["count", write(tmp, "m.safetensors.index.json", json.dumps({"weight_map": {"a": "secret.safetensors"}}))]


def _lazy(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> list:
    return [
        "count",
        write(
            tmp,
            "lazy.py",
            "from torch import nn\n\ndef build():\n    return nn.Sequential(nn.LazyLinear(3), nn.Linear(3, 2))\n",
        )
        + ":build",
    ]


def factory(body: str, head: str = "") -> Builder:
    """`count f.py:build` on a factory file whose build() runs `body`."""
    return lambda t, m: ["count", write(t, "f.py", f"{head}def build():\n    {body}\n") + ":build"]


CASES = [
    # -- 1. code execution without consent -----------------------------------------------------
    pytest.param(
        check_manifest("os:system", {"command": TOUCH}),
        X.UNSAFE_PICKLE,
        "lock.json: the manifest names code to import and run ('os:system')",
        id="check: manifest names os:system",
    ),
    pytest.param(
        _check_file_factory,
        X.UNSAFE_PICKLE,
        "pass --trust-code, or name the model yourself",
        id="check: manifest names a file factory",
    ),
    pytest.param(
        check_manifest("subprocess:getoutput", {"cmd": TOUCH}),
        X.UNSAFE_PICKLE,
        "'subprocess:getoutput'",
        id="check: manifest names subprocess",
    ),
    pytest.param(
        check_manifest("builtins:exec", {"source": f"open({MARKER!r}, 'w')"}),
        X.UNSAFE_PICKLE,
        "'builtins:exec'",
        id="check: manifest names builtins:exec",
    ),
    pytest.param(
        check_manifest("os:system", {"command": TOUCH}, "--trust-code"),
        X.MODEL,
        "factory 'os:system' is in Python's standard library",
        id="check: --trust-code still refuses the stdlib",
    ),
    pytest.param(
        _check_weights_default_poisoned,
        X.UNSAFE_PICKLE,
        f"{RESNET18_DEFAULT}: loading this file would run code",
        id="check: manifest weights DEFAULT, poisoned hub cache",
    ),
    pytest.param(
        _weights_default_poisoned,
        X.UNSAFE_PICKLE,
        f"{RESNET18_DEFAULT}: loading this file would run code",
        id="weights DEFAULT: poisoned hub cache",
    ),
    pytest.param(
        _weights_default_poisoned_trusted,
        X.WEIGHTS,
        f"{RESNET18_DEFAULT}: its SHA-256 does not start with f37072fd",
        id="weights DEFAULT: poisoned hub cache with --trust-pickle",
    ),
    pytest.param(
        lambda t, m: ["count", "os:system", "--arg", f"command={TOUCH}"],
        X.MODEL,
        "factory 'os:system' is in Python's standard library",
        id="factory: os:system",
    ),
    pytest.param(
        lambda t, m: ["count", "subprocess:getoutput", "--arg", f"cmd={TOUCH}"],
        X.MODEL,
        "'subprocess:getoutput' is in Python's standard library",
        id="factory: subprocess",
    ),
    pytest.param(
        lambda t, m: ["count", "builtins:eval"],
        X.MODEL,
        "'builtins:eval' is in Python's standard library",
        id="factory: builtins:eval",
    ),
    pytest.param(
        lambda t, m: [
            "count",
            write(t, "f.py", "from os import system as build\n") + ":build",
            "--arg",
            f"command={TOUCH}",
        ],
        X.MODEL,
        "resolves to posix.system from Python's standard library",
        id="factory: a file re-exporting os.system",
    ),
    pytest.param(
        lambda t, m: [
            "count",
            write(t, "f.py", f"import functools, os\nbuild = functools.partial(os.system, {TOUCH!r})\n") + ":build",
        ],
        X.MODEL,
        "resolves to posix.system",
        id="factory: a partial of os.system",
    ),
    # -- 2. reads that never end or never stop growing -----------------------------------------
    pytest.param(
        lambda t, m: ["count", fifo(t, "pipe.py") + ":build"],
        X.MODEL,
        "pipe.py: is a FIFO (named pipe), not a Python file",
        id="factory file: a FIFO",
    ),
    pytest.param(
        lambda t, m: ["count", link(t, "zero.py", "/dev/zero") + ":build"],
        X.MODEL,
        "zero.py: is a device, not a Python file",
        id="factory file: /dev/zero",
    ),
    pytest.param(
        lambda t, m: ["count", str((t / "d.py").mkdir() or "d.py") + ":build"],
        X.MODEL,
        "d.py: is a directory, not a Python file",
        id="factory file: a directory",
    ),
    pytest.param(
        lambda t, m: ["count", fifo(t, "p.safetensors")],
        X.WEIGHTS,
        "p.safetensors: is a FIFO (named pipe), not a safetensors file",
        id="checkpoint: safetensors FIFO",
    ),
    pytest.param(
        lambda t, m: ["count", link(t, "z.safetensors", "/dev/zero")],
        X.WEIGHTS,
        "z.safetensors: is a device, not a safetensors file",
        id="checkpoint: safetensors /dev/zero",
    ),
    pytest.param(
        lambda t, m: ["count", fifo(t, "m.safetensors.index.json")],
        X.WEIGHTS,
        "m.safetensors.index.json: is a FIFO (named pipe), not a safetensors index",
        id="checkpoint: index FIFO",
    ),
    pytest.param(
        lambda t, m: ["count", zip_bomb(t, "bomb.pt")],
        X.WEIGHTS,
        "bomb.pt: its zip entries declare 8,389,",
        id="checkpoint: zip bomb .pt",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--weights-file", zip_bomb(t, "bomb.pt")],
        X.WEIGHTS,
        "(a zip bomb?)",
        id="weights-file: zip bomb .pt",
    ),
    pytest.param(
        _index_shard_outside,
        X.WEIGHTS,
        "shard '../outside.safetensors' lies outside the index's folder",
        id="index: shard climbs out with ..",
    ),
    pytest.param(
        lambda t, m: ["count", write(t, "m.safetensors.index.json", json.dumps({"weight_map": {"a": "/etc/passwd"}}))],
        X.WEIGHTS,
        "shard '/etc/passwd' lies outside the index's folder; refused without opening it",
        id="index: shard is an absolute path",
    ),
    pytest.param(
        _index_shard_not_a_checkpoint,
        X.WEIGHTS,
        "secret.safetensors: not a safetensors file (its header length is over the 100 MiB limit)",
        id="index: a shard that is not a checkpoint echoes nothing",
    ),
    pytest.param(
        _index_two_shards_over_budget,
        X.WEIGHTS,
        "the shards' headers hold more than",
        id="index: shards' headers over the total cap",
    ),
    pytest.param(
        lambda t, m: ["check", fifo(t, "lock.json")],
        X.CONFIG,
        "lock.json: is a FIFO (named pipe), not a manifest file",
        id="manifest: a FIFO",
    ),
    pytest.param(
        check_manifest("resnet18", None, rules=[{"action": "freeze", "pattern": "fc"}] * 10_001),
        X.CONFIG,
        "lock.json: damaged manifest: 10,001 rules is over the limit of 10,000",
        id="manifest: too many rules",
    ),
    # -- 6. tracebacks still reachable -------------------------------------------------------------
    pytest.param(
        _lazy,
        X.MODEL,
        "2 parameters or buffers are not initialized yet (lazy modules): 0.weight, 0.bias",
        id="factory: LazyLinear",
    ),
    pytest.param(
        lambda t, m: ["verify", "resnet18", "--batch-size", "1000000"],
        X.USAGE,
        "cannot allocate a synthetic batch of 1000000 on cpu",
        id="verify: batch size too big to allocate",
    ),
    pytest.param(
        factory("raise Boom('bang')", "class Boom(BaseException):\n    pass\n\n"),
        X.MODEL,
        "f.py:build failed: Boom: bang",
        id="factory: raises a BaseException subclass",
    ),
    pytest.param(
        lambda t, m: [
            "count",
            write(t, "f.py", "class Boom(BaseException):\n    pass\n\nraise Boom('at import')\n") + ":build",
        ],
        X.MODEL,
        "f.py: importing it failed: Boom: at import",
        id="factory: BaseException at import",
    ),
    pytest.param(
        factory("raise KeyboardInterrupt"),
        X.INTERRUPTED,
        "interrupted while running f.py:build",
        id="factory: raises KeyboardInterrupt",
    ),
    pytest.param(
        factory("import os; os._exit(3)"),
        X.MODEL,
        "f.py:build called os._exit(3); refused",
        id="factory: calls os._exit",
    ),
    pytest.param(
        factory("import posix; posix._exit(0)"),
        X.MODEL,
        "f.py:build called os._exit(0); refused",
        id="factory: calls posix._exit",
    ),
]


@pytest.mark.parametrize("build, code, fragment", CASES)
def test_untrusted_input_fails_cleanly(cli, tmp_path, monkeypatch, build, code, fragment):
    monkeypatch.chdir(tmp_path)
    args = build(tmp_path, monkeypatch)
    before = snapshot(tmp_path)
    exit_code, out, err = cli(*args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert not (tmp_path / MARKER).exists(), "code named by a file ran"
    assert "Traceback" not in out + err
    assert len(lines) == 1, err
    assert lines[0].startswith("freezekit: error: "), err
    assert fragment in lines[0], lines[0]
    assert exit_code == code, (exit_code, err)
    assert snapshot(tmp_path) == before, "the command wrote or changed files"


def test_factory_returning_no_module_writes_nothing(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "f.py", "def build():\n    return {'w': 1}\n")
    code, _, err = cli("freeze", "f.py:build", "--save", "out.pt", "--manifest", "m.json")
    assert (code, err) == (X.MODEL, "freezekit: error: f.py:build returned dict, not a torch.nn.Module\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.py"]


# -- consent given: the manifest's factory runs ------------------------------------------------------


def test_check_runs_a_manifests_factory_with_consent(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("freeze", TIED, "-p", "body.*", "--manifest", "lock.json")[0] == 0
    assert cli("check", "lock.json")[0] == X.UNSAFE_PICKLE
    for extra in (["--trust-code"], [TIED]):  # consent, or the user names the same factory
        code, out, err = cli("check", "lock.json", *extra)
        assert (code, err) == (0, ""), err
        assert out.startswith("manifest matches: 28 of 60 parameters frozen")


def test_python_api_needs_consent_for_a_manifests_code(tmp_path, monkeypatch):
    import freezekit
    from freezekit.errors import ModelError, UnsafeCodeError

    monkeypatch.chdir(tmp_path)
    write(tmp_path, "evil.py", EVIL_PY)
    write(tmp_path, "lock.json", manifest("evil.py:build"))
    with pytest.raises(UnsafeCodeError, match="pass --trust-code"):
        freezekit.check_manifest("lock.json")
    from tests.models_for_tests import build_tied

    with pytest.raises(freezekit.api.DriftError):  # the manifest is data: its factory is never imported
        freezekit.apply_manifest(build_tied(), "lock.json")
    assert not (tmp_path / MARKER).exists()
    with pytest.raises(ModelError, match="evil.py:build returned NoneType"):  # consent: the factory runs
        freezekit.check_manifest("lock.json", trust_code=True)
    assert (tmp_path / MARKER).exists()


# -- 2. a sharded index reads each shard once ---------------------------------------------------------


def test_index_reads_a_shard_named_many_ways_once(cli, tmp_path, monkeypatch):
    from freezekit.sources import safetensors_header

    monkeypatch.chdir(tmp_path)
    safetensors_file(
        tmp_path, "s.safetensors", {f"t{i}.w": {**F32x2, "data_offsets": [8 * i, 8 * i + 8]} for i in range(4)}
    )
    spellings = ["s.safetensors", "./s.safetensors", ".//s.safetensors", "./././s.safetensors"]
    write(
        tmp_path,
        "m.safetensors.index.json",
        json.dumps({"weight_map": {f"t{i}.w": spelling for i, spelling in enumerate(spellings)}}),
    )
    reads = []
    real = safetensors_header.read_header
    monkeypatch.setattr(safetensors_header, "read_header", lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    code, out, err = cli("count", "m.safetensors.index.json", "-f", "json")
    assert (code, err) == (0, "")
    assert json.loads(out)["totals"]["total"] == 8 and len(reads) == 1


# -- 2. the zip-bomb limits, exactly ---------------------------------------------------------------


def test_zip_limits(cli, tmp_path, monkeypatch):
    from freezekit.adapter import state_dict_files

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(state_dict_files, "available_memory", lambda: 1000)
    torch_save(tmp_path, "plain.pt", tiny_state_dict())  # stored entries are mapped, never inflated: no memory check
    assert cli("count", "plain.pt")[0] == 0
    torch_save(tmp_path, "padded.pt", tiny_state_dict())
    with zipfile.ZipFile(tmp_path / "padded.pt", "a", compression=zipfile.ZIP_DEFLATED) as z:
        root = z.namelist()[0].split("/")[0]  # torch wants every entry under the archive's root folder
        z.writestr(f"{root}/padding", b"\0" * 4096)  # well within 64x, but it would inflate past 1,000 bytes
    code, _, err = cli("count", "padded.pt")
    assert code == X.WEIGHTS and "more than the 1,000 bytes of memory available (a zip bomb?)" in err
    monkeypatch.setattr(state_dict_files, "available_memory", lambda: 4096)
    assert cli("count", "padded.pt")[0] == 0
    with zipfile.ZipFile(tmp_path / "padded.pt") as z:
        declared = sum(i.file_size for i in z.infolist())
    size = (tmp_path / "padded.pt").stat().st_size
    monkeypatch.setattr(state_dict_files, "MAX_ZIP_RATIO", declared // size)  # declared is just over the limit
    assert declared > state_dict_files.MAX_ZIP_RATIO * size
    assert cli("count", "padded.pt")[0] == X.WEIGHTS
    monkeypatch.setattr(state_dict_files, "MAX_ZIP_RATIO", declared // size + 1)  # just under it
    assert cli("count", "padded.pt")[0] == 0
