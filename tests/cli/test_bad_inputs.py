"""The hostile-input corpus: every case is a command line that must fail cleanly.

One table, one test. For every case the CLI must
  * exit with the documented code (docs/cli.md "Exit codes", freezekit.errors.ExitCode),
  * print exactly one non-empty line on stderr, starting `freezekit: error:` and naming the culprit,
  * show no traceback anywhere,
  * write nothing: the files in the case's folder (the current folder too) are exactly the
    inputs the case made, with the same modification times.

Each case has a small builder that makes its input files in `tmp` (the test's current folder)
and returns the arguments. Builders get pytest's `monkeypatch` too, to lower a limit where
reaching the real one would cost seconds (the limit's check is the same code either way).
"""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import struct
import zipfile
from typing import Callable

import pytest

from freezekit.errors import ConfigError
from freezekit.errors import ExitCode as X

HERE = pathlib.Path(__file__).resolve().parents[1]
TIED = f"{HERE / 'models_for_tests.py'}:build_tied"  # a tiny factory model: embed(8x4), body, head tied
MARKER = "pwned"  # a malicious pickle creates this file when it runs


# -- small file makers ---------------------------------------------------------


def write(tmp: pathlib.Path, name: str, content: str | bytes) -> str:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return name


def safetensors_file(
    tmp: pathlib.Path, name: str, header: dict | bytes, data_size: int | None = None, length: int | None = None
) -> str:
    """A safetensors file from a header (dict or raw bytes); `length` overrides the 8-byte length field."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    if data_size is None:
        data_size = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    with open(tmp / name, "wb") as f:
        f.write(struct.pack("<Q", len(raw) if length is None else length) + raw)
        f.write(b"\0" * data_size)
    return name


def random_bytes(n: int, seed: int = 7) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


def tiny_state_dict(**kwargs):
    import torch

    from tests.models_for_tests import build_tied

    torch.manual_seed(0)
    return build_tied(**kwargs).state_dict()


def torch_save(tmp: pathlib.Path, name: str, obj, **kwargs) -> str:
    import torch

    torch.save(obj, tmp / name, **kwargs)
    return name


class Malicious:
    """Unpickling it creates `marker`: proof that code from the file ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def malicious_pt(tmp: pathlib.Path, name: str, how: str = "torch.save") -> str:
    import torch

    payload = {"weight": torch.zeros(2), "boom": Malicious(str(tmp / MARKER))}
    if how == "pickle":
        (tmp / name).write_bytes(pickle.dumps(Malicious(str(tmp / MARKER)), protocol=4))
    else:
        torch.save(payload, tmp / name, _use_new_zipfile_serialization=how == "torch.save")
    return name


def truncated_pt(tmp: pathlib.Path, name: str) -> str:
    import torch

    torch.save(tiny_state_dict(), tmp / name)
    data = (tmp / name).read_bytes()
    (tmp / name).write_bytes(data[: len(data) // 2])
    return name


def foreign_zip(tmp: pathlib.Path, name: str) -> str:
    with zipfile.ZipFile(tmp / name, "w") as z:
        z.writestr("notes.txt", "a zip, but not a checkpoint")
    return name


def manifest_doc(**changes) -> str:
    doc = {
        "schema": "freezekit.manifest",
        "schema_version": 1,
        "model": {"source": "resnet18", "kind": "torchvision", "weights": None, "weights_file": None, "args": {}},
        "default": "trainable",
        "rules": [{"action": "freeze", "pattern": "fc", "origin": "--pattern"}],
        "frozen": ["fc.weight", "fc.bias"],
        "fingerprint": "sha256:0",
        "parameters": {"fc.weight": "1000x512:float32"},
        "versions": {},
    }
    for key, value in changes.items():
        if value is None:
            del doc[key]
        else:
            doc[key] = value
    return json.dumps(doc)


def sparse_file(tmp: pathlib.Path, name: str, size: int, head: bytes = b"") -> str:
    with open(tmp / name, "wb") as f:
        f.write(head)
        f.truncate(size)
    return name


F32x2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
CFG = "model: resnet18\n"
Builder = Callable[[pathlib.Path, pytest.MonkeyPatch], list]


def cfg(text: str | bytes, name: str = "bad.yaml") -> Builder:
    """A case running `count -c NAME` on a config with this content."""
    return lambda tmp, mp: ["count", "-c", write(tmp, name, text)]


def _unreadable_config(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> list:
    # root reads a chmod 000 file anyway, so the unreadable file is one the kernel refuses to
    # read for everyone: /proc/self/mem at offset 0 fails with EIO. A link keeps the name ours.
    os.symlink("/proc/self/mem", tmp / "locked.yaml")
    return ["count", "-c", "locked.yaml"]


def _chmod_000_config(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> list:
    write(tmp, "locked.yaml", CFG)
    os.chmod(tmp / "locked.yaml", 0)
    if os.access(tmp / "locked.yaml", os.R_OK):  # root (or CAP_DAC_OVERRIDE) ignores the mode
        os.chmod(tmp / "locked.yaml", 0o600)
        pytest.skip("running with privileges that ignore file permissions; see 'config: unreadable (EIO)'")
    return ["count", "-c", "locked.yaml"]


def _many_tensors(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> list:
    from freezekit.sources import safetensors_header

    mp.setattr(safetensors_header, "MAX_TENSORS", 3)
    header = {f"t{i}": {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]} for i in range(4)}
    return ["count", safetensors_file(tmp, "many.safetensors", header)]


def _huge_header(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> list:
    # A valid length field just over the 100 MiB limit, in a sparse file that really is that long.
    name = sparse_file(tmp, "huge.safetensors", 8 + 100 * 2**20 + 10, struct.pack("<Q", 100 * 2**20 + 1))
    return ["count", name]


def link(tmp: pathlib.Path, name: str, target: str) -> str:
    """A symlink in tmp to a system file (a device), so the culprit's name is ours."""
    if not os.path.exists(target):
        pytest.skip(f"no {target} on this system")
    os.symlink(target, tmp / name)
    return name


def in_proc(name: str) -> str:
    """A destination in /proc: a folder that passes os.access(W_OK) as root, yet refuses new files."""
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc on this system")
    return f"/proc/{name}"


def _arg_weights(tmp: pathlib.Path, mp: pytest.MonkeyPatch) -> list:
    # torchvision would download the weights: make sure this case cannot reach the network
    import socket

    def offline(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "no network in the tests")

    mp.setattr(socket, "getaddrinfo", offline)
    mp.setattr(socket, "create_connection", offline)
    return ["count", "resnet18", "--arg", "weights=DEFAULT"]


def _deep_flow(depth: int) -> str:
    return "model: resnet18\nrules: " + "[" * depth + "]" * depth + "\n"


# -- the corpus ------------------------------------------------------------------
# (builder, exit code, fragment of the one stderr line; `{tmp}` is replaced by the case's folder)

CASES = [
    # -- command line -----------------------------------------------------------
    pytest.param(lambda t, m: ["count", "resnet1888"], X.MODEL, "unknown model 'resnet1888'", id="cli: unknown model"),
    pytest.param(
        lambda t, m: ["count", "no_such_pkg_xyz:build"], X.MODEL, "no_such_pkg_xyz", id="cli: factory module missing"
    ),
    pytest.param(
        lambda t, m: ["count", write(t, "f.py", "def build():\n    return 3\n") + ":build"],
        X.MODEL,
        "returned int, not a torch.nn.Module",
        id="cli: factory returns no module",
    ),
    pytest.param(
        lambda t, m: ["count", write(t, "f.py", "raise SystemExit(3)\n") + ":build"],
        X.MODEL,
        "f.py: importing it failed",
        id="cli: factory file exits on import",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "-p", ""],
        X.RULE,
        "'freeze ' (--pattern): the pattern is empty",
        id="cli: empty pattern",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "-u", "re:"], X.RULE, "the pattern is empty", id="cli: empty regex"
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "-p", "re:layer[1"],
        X.RULE,
        "rule 'freeze re:layer[1' (--pattern): invalid regular expression",
        id="cli: invalid regex",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "-p", "x" * 1001],
        X.RULE,
        "longer than 1000 characters",
        id="cli: pattern too long",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "-p", "type:BatchNorm9d"],
        X.NO_MATCH,
        "rule 'freeze type:BatchNorm9d' (--pattern) selects no parameter",
        id="cli: unknown type",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "-p", "layer9.*"],
        X.NO_MATCH,
        "'freeze layer9.*'",
        id="cli: glob selects nothing",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "-p", "through:layer9"],
        X.RULE,
        "no module named 'layer9'",
        id="cli: through names no module",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "--export", "x.svg", "--format", "json"],
        X.USAGE,
        "--export saves the rendered table; it cannot be combined with --format json",
        id="cli: export with json",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "--export", "x.pdf"], X.USAGE, "--export x.pdf", id="cli: export suffix"
    ),
    pytest.param(
        lambda t, m: ["freeze", safetensors_file(t, "ok.safetensors", {"a.w": F32x2}), "--save", "out.pt"],
        X.USAGE,
        "--save needs a model",
        id="cli: save with a checkpoint as MODEL",
    ),
    pytest.param(
        lambda t, m: ["count", safetensors_file(t, "ok.safetensors", {"a.w": F32x2}), "--weights", "DEFAULT"],
        X.USAGE,
        "--weights and --weights-file apply to a model",
        id="cli: weights with a checkpoint as MODEL",
    ),
    pytest.param(
        lambda t, m: ["freeze", "resnet18", "--save", "same.pt", "--manifest", "same.pt"],
        X.OUTPUT,
        "--save and --manifest name the same file",
        id="cli: save and manifest the same file",
    ),
    pytest.param(lambda t, m: ["count", "resnet18", "--depth", "-1"], X.USAGE, "'--depth'", id="cli: depth -1"),
    pytest.param(
        lambda t, m: ["count", "resnet18", "--expect-trainable", "many"],
        X.USAGE,
        "'--expect-trainable'",
        id="cli: expect-trainable not a number",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "--expect-total", "-5"],
        X.USAGE,
        "'--expect-total'",
        id="cli: expect-total negative",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "--max-trainable-pct", "101"],
        X.USAGE,
        "'--max-trainable-pct'",
        id="cli: max-trainable-pct 101",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "--default", "nonsense"], X.USAGE, "'--default'", id="cli: default nonsense"
    ),
    pytest.param(lambda t, m: ["count", "resnet18", "--only", "both"], X.USAGE, "'--only'", id="cli: only both"),
    pytest.param(lambda t, m: ["count", "resnet18", "--frobnicate"], X.USAGE, "--frobnicate", id="cli: unknown option"),
    pytest.param(
        lambda t, m: ["count", "resnet18", "-p"], X.USAGE, "'-p' requires an argument", id="cli: option without value"
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "--arg", "2x=3"],
        X.USAGE,
        "--arg '2x=3'",
        id="cli: arg key not an identifier",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "--arg", "num_classes=many"],
        X.MODEL,
        "model 'resnet18'",
        id="cli: arg value the builder refuses",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "--arg", "num_classes=2001-13-45"],
        X.MODEL,
        "model 'resnet18'",
        id="cli: arg value an impossible date",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "--arg", "num_classes=!!int x"],
        X.MODEL,
        "model 'resnet18'",
        id="cli: arg value a bad !!int",
    ),
    pytest.param(_arg_weights, X.USAGE, "--weights", id="cli: arg weights bypasses --weights"),
    pytest.param(
        lambda t, m: ["count", TIED, "--weights", "DEFAULT"],
        X.USAGE,
        "--weights",
        id="cli: weights with a factory model",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--save", ""],
        X.OUTPUT,
        "the output path is empty",
        id="cli: save to an empty path",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--weights-file", ""], X.WEIGHTS, "empty", id="cli: weights-file empty path"
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "-c", ""], X.CONFIG, "the config file path is empty", id="cli: config empty path"
    ),
    pytest.param(
        lambda t, m: ["check", ""], X.CONFIG, "the manifest file path is empty", id="check: empty manifest path"
    ),
    pytest.param(
        lambda t, m: ["count"], X.USAGE, "no freezekit.yaml in this folder", id="cli: no MODEL and no freezekit.yaml"
    ),
    pytest.param(
        lambda t, m: ["verify", "resnet18", "--device", "tpu"], X.USAGE, "--device tpu", id="verify: device tpu"
    ),
    pytest.param(
        lambda t, m: ["verify", "resnet18", "--device", "cuda:x"],
        X.USAGE,
        "--device cuda:x",
        id="verify: device cuda:x",
    ),
    pytest.param(
        lambda t, m: ["verify", "resnet18", "--dtype", "float64"],
        X.USAGE,
        "--dtype float64",
        id="verify: dtype float64",
    ),
    pytest.param(
        lambda t, m: ["verify", "resnet18", "--input-shape", "0,1"],
        X.USAGE,
        "--input-shape 0,1",
        id="verify: input-shape 0,1",
    ),
    pytest.param(
        lambda t, m: ["verify", "resnet18", "--input-shape", "3,a,4"],
        X.USAGE,
        "--input-shape 3,a,4",
        id="verify: input-shape not numbers",
    ),
    pytest.param(
        lambda t, m: ["verify", "resnet18", "--batch-size", "0"], X.USAGE, "'--batch-size'", id="verify: batch-size 0"
    ),
    pytest.param(
        lambda t, m: ["verify", "resnet18", "--format", "csv"],
        X.USAGE,
        "'csv' is not one of table, json, markdown",
        id="verify: format csv",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", manifest_doc()), "--format", "csv"],
        X.USAGE,
        "'csv' is not one of table, json",
        id="check: format csv",
    ),
    pytest.param(
        lambda t, m: ["models", "zzzz_no_such"],
        X.USAGE,
        "no model name contains 'zzzz_no_such'",
        id="models: filter matches nothing",
    ),
    pytest.param(
        lambda t, m: ["models", "--weights", "nosuchnet"], X.MODEL, "nosuchnet", id="models: weights of unknown model"
    ),
    # -- YAML configs -------------------------------------------------------------
    pytest.param(
        lambda t, m: ["count", "-c", "missing.yaml"],
        X.CONFIG,
        "missing.yaml: no such config file",
        id="config: missing",
    ),
    pytest.param(cfg("model: [unclosed\n"), X.CONFIG, "bad.yaml: not valid YAML (line 2", id="config: syntax error"),
    pytest.param(
        cfg("model: resnet18\n\trules: []\n"), X.CONFIG, "bad.yaml: not valid YAML", id="config: tab indentation"
    ),
    pytest.param(
        cfg("model: resnet18\ndefault: 3\n"),
        X.CONFIG,
        "bad.yaml: default (line 2): must be one of",
        id="config: wrong type for default",
    ),
    pytest.param(
        cfg("model: 3\n"), X.CONFIG, "bad.yaml: model (line 1): must be a model name", id="config: model is a number"
    ),
    pytest.param(
        cfg("model: resnet18\nrules: 'fc'\n"),
        X.CONFIG,
        "bad.yaml: rules (line 2): must be a list",
        id="config: rules is a string",
    ),
    pytest.param(
        cfg("model: resnet18\nrules:\n  - freeze: fc\n    unfreeze: fc\n"),
        X.CONFIG,
        "bad.yaml: rules[0] (line 3)",
        id="config: rule with two actions",
    ),
    pytest.param(
        cfg("model: resnet18\nrules:\n  - freeze: 3\n"),
        X.CONFIG,
        "rules[0].freeze (line 3): must be a non-empty string",
        id="config: pattern is a number",
    ),
    pytest.param(
        cfg("model: resnet18\nrules:\n  - freeze: 're:('\n"), X.CONFIG, "rules[0].freeze", id="config: invalid regex"
    ),
    pytest.param(
        cfg("modle: resnet18\n"),
        X.CONFIG,
        "modle (line 1): unknown key 'modle'; did you mean 'model'?",
        id="config: unknown key",
    ),
    pytest.param(
        cfg("model:\n  name: resnet18\n  arguments: {}\n"),
        X.CONFIG,
        "model.arguments (line 3): unknown key",
        id="config: unknown nested key",
    ),
    pytest.param(cfg("1: resnet18\n"), X.CONFIG, "keys must be strings", id="config: non-string key"),
    pytest.param(cfg(""), X.CONFIG, "bad.yaml: the config is empty", id="config: empty file"),
    pytest.param(cfg("# only a comment\n"), X.CONFIG, "bad.yaml: the config is empty", id="config: only a comment"),
    pytest.param(
        cfg("- model: resnet18\n"),
        X.CONFIG,
        "bad.yaml: document (line 1): must be a mapping",
        id="config: list where a mapping belongs",
    ),
    pytest.param(
        cfg("model: resnet18\nexpect: [1, 2]\n"),
        X.CONFIG,
        "expect (line 2): must be a mapping",
        id="config: expect is a list",
    ),
    pytest.param(
        cfg("model: resnet18\nrules: []\n" + "#" * (1 << 20)),
        X.CONFIG,
        "over the 1,048,576-byte limit",
        id="config: over 1 MiB",
    ),
    pytest.param(cfg(_deep_flow(17)), X.CONFIG, "nested deeper than 16 levels", id="config: nested 17 deep"),
    pytest.param(cfg(_deep_flow(5000)), X.CONFIG, "bad.yaml", id="config: nested 5000 deep"),
    pytest.param(
        cfg(
            "model: resnet18\n"
            + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9 if i else ["lol"] * 9) + "]\n" for i in range(9))
        ),
        X.CONFIG,
        "YAML aliases (*a0) are not allowed",
        id="config: billion laughs",
    ),
    pytest.param(
        cfg("model: !!python/object/apply:os.system ['touch pwned']\n"),
        X.CONFIG,
        "bad.yaml: model (line 1): must be a model name",
        id="config: python tag on a sequence",
    ),
    pytest.param(
        cfg("model: !!python/name:os.system\n"),
        X.CONFIG,
        "bad.yaml: not valid YAML (line 1, column 8)",
        id="config: python tag on a scalar",
    ),
    pytest.param(
        cfg("model: resnet18\nweights: 2001-13-45\n"),
        X.CONFIG,
        "bad.yaml: weights (line 2): '2001-13-45' is not a valid timestamp value",
        id="config: impossible date",
    ),
    pytest.param(
        cfg("model: resnet18\nexpect:\n  total: !!int many\n"),
        X.CONFIG,
        "bad.yaml: expect.total (line 3): 'many' is not a valid int value",
        id="config: !!int on text",
    ),
    pytest.param(
        cfg("model: resnet18\n!!bool maybe: 1\n"),
        X.CONFIG,
        "bad.yaml: document (line 2): 'maybe' is not a valid bool value",
        id="config: !!bool key",
    ),
    pytest.param(
        cfg(b"model: resnet18\nrules:\n  - freeze: \xff\xfe\n"),
        X.CONFIG,
        "bad.yaml: not UTF-8 text (byte 35)",
        id="config: not UTF-8",
    ),
    pytest.param(cfg("model: resnet18\x00\n"), X.CONFIG, "bad.yaml: not valid YAML", id="config: NUL byte"),
    pytest.param(
        lambda t, m: ["count", "-c", str((t / "adir").mkdir() or "adir")],
        X.CONFIG,
        "adir: is a directory",
        id="config: a directory",
    ),
    pytest.param(
        lambda t, m: ["count", "-c", link(t, "zero.yaml", "/dev/zero")],
        X.CONFIG,
        "zero.yaml: more than 1,048,576 bytes, over the limit",
        id="config: endless device",
    ),
    pytest.param(
        lambda t, m: ["check", link(t, "zero.json", "/dev/zero")],
        X.CONFIG,
        "zero.json: is a device, not a manifest file",
        id="manifest: endless device",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--weights-file", link(t, "zero.pt", "/dev/zero")],
        X.WEIGHTS,
        "zero.pt: is not a regular file",
        id="weights-file: a device",
    ),
    pytest.param(_unreadable_config, X.CONFIG, "locked.yaml: cannot read", id="config: unreadable (EIO)"),
    pytest.param(_chmod_000_config, X.CONFIG, "locked.yaml: permission denied", id="config: chmod 000"),
    pytest.param(
        lambda t, m: ["count", "-c", write(t, "f.txt", "x") + "/c.yaml"],
        X.CONFIG,
        "f.txt/c.yaml",
        id="config: path under a regular file",
    ),
    pytest.param(
        cfg("model: resnet18\nrules:\n  - melt: fc\n"),
        X.CONFIG,
        "rules[0].melt (line 3): unknown action 'melt'",
        id="config: unknown action",
    ),
    pytest.param(
        cfg("model: resnet18\nexpect:\n  trainable: -5\n"),
        X.CONFIG,
        "expect.trainable (line 3): must be a whole number",
        id="config: expect negative",
    ),
    pytest.param(
        cfg("model: resnet18\nexpect:\n  max_trainable_pct: -0.5\n"),
        X.CONFIG,
        "expect.max_trainable_pct (line 3): must be a percentage",
        id="config: expect negative percentage",
    ),
    pytest.param(
        cfg("model: resnet18\nexpect:\n  max_trainable_pct: .nan\n"),
        X.CONFIG,
        "expect.max_trainable_pct (line 3): must be a percentage",
        id="config: expect NaN percentage",
    ),
    pytest.param(
        cfg("model: resnet18\nrules:\n" + "  - freeze: fc\n" * 10_001),
        X.CONFIG,
        "rules (line 3): 10,001 rules is over the limit of 10,000",
        id="config: too many rules",
    ),
    pytest.param(
        cfg("model: resnet18\nrules:\n  - freeze: layer9\n"),
        X.NO_MATCH,
        "(bad.yaml: rules[0].freeze)",
        id="config: rule selects nothing",
    ),
    pytest.param(
        cfg("model: resnet18\nweights_file: nowhere.pt\n"),
        X.WEIGHTS,
        "nowhere.pt: no such file",
        id="config: weights_file missing",
    ),
    # -- weight and checkpoint files as MODEL ----------------------------------------
    pytest.param(
        lambda t, m: ["count", write(t, "e.safetensors", b"")],
        X.WEIGHTS,
        "e.safetensors: file is empty",
        id="model file: empty safetensors",
    ),
    pytest.param(
        lambda t, m: ["count", write(t, "e.pt", b"")], X.WEIGHTS, "e.pt: file is empty", id="model file: empty pt"
    ),
    pytest.param(
        lambda t, m: ["count", truncated_pt(t, "cut.pt")], X.WEIGHTS, "cut.pt: damaged", id="model file: truncated pt"
    ),
    pytest.param(
        lambda t, m: ["count", write(t, "noise.pt", random_bytes(5000))],
        X.WEIGHTS,
        "noise.pt",
        id="model file: random bytes pt",
    ),
    pytest.param(
        lambda t, m: ["count", write(t, "noise.safetensors", random_bytes(5000))],
        X.WEIGHTS,
        "noise.safetensors",
        id="model file: random bytes safetensors",
    ),
    pytest.param(
        lambda t, m: ["count", foreign_zip(t, "notes.pt")], X.WEIGHTS, "notes.pt", id="model file: foreign zip"
    ),
    pytest.param(
        lambda t, m: ["count", torch_save(t, "meta.pt", {"epoch": 3})],
        X.WEIGHTS,
        "meta.pt: holds a dict with no tensors",
        id="model file: pt without tensors",
    ),
    pytest.param(
        lambda t, m: ["count", safetensors_file(t, "absurd.safetensors", b"{}", 0, length=2**63)],
        X.WEIGHTS,
        "absurd.safetensors: not a safetensors file (its header length is over the 100 MiB limit)",
        id="model file: absurd header length",
    ),
    pytest.param(
        _huge_header,
        X.WEIGHTS,
        "huge.safetensors: not a safetensors file (its header length is over the 100 MiB limit)",
        id="model file: header just over 100 MiB",
    ),
    pytest.param(
        lambda t, m: ["count", safetensors_file(t, "past.safetensors", b"{}", 0, length=1000)],
        X.WEIGHTS,
        "past.safetensors: not a safetensors file or truncated (its header runs past the end of the 10-byte file)",
        id="model file: header past the end",
    ),
    pytest.param(
        lambda t, m: [
            "count",
            safetensors_file(t, "overlap.safetensors", {"a": F32x2, "b": {**F32x2, "data_offsets": [4, 12]}}),
        ],
        X.WEIGHTS,
        "tensors 'a' and 'b' overlap",
        id="model file: overlapping offsets",
    ),
    pytest.param(
        lambda t, m: ["count", safetensors_file(t, "short.safetensors", {"a": {**F32x2, "data_offsets": [0, 8]}}, 4)],
        X.WEIGHTS,
        "short.safetensors: tensor 'a': data ends at byte 8",
        id="model file: data past the end",
    ),
    pytest.param(
        lambda t, m: ["count", safetensors_file(t, "nested.safetensors", b"[" * 100_000 + b"]" * 100_000, 0)],
        X.WEIGHTS,
        "nested.safetensors: header is not valid JSON",
        id="model file: header nested 100000 deep",
    ),
    pytest.param(
        _many_tensors,
        X.WEIGHTS,
        "many.safetensors: header declares 4 tensors, over the limit of 3",
        id="model file: too many tensors",
    ),
    pytest.param(
        lambda t, m: ["count", str((t / "d.safetensors").mkdir() or "d.safetensors")],
        X.WEIGHTS,
        "d.safetensors: is a directory",
        id="model file: a directory",
    ),
    pytest.param(lambda t, m: ["count", "gone.pt"], X.WEIGHTS, "gone.pt: no such file", id="model file: missing"),
    pytest.param(
        lambda t, m: ["count", write(t, "x.safetensors.index.json", "{not json")],
        X.WEIGHTS,
        "x.safetensors.index.json: index is not valid JSON",
        id="model file: index not JSON",
    ),
    pytest.param(
        lambda t, m: ["count", write(t, "x.safetensors.index.json", '{"weight_map": {"a": "nope.safetensors"}}')],
        X.WEIGHTS,
        "shard 'nope.safetensors' is missing",
        id="model file: index shard missing",
    ),
    pytest.param(
        lambda t, m: ["count", sparse_file(t, "big.safetensors.index.json", (64 << 20) + 1, b'{"weight_map": {')],
        X.WEIGHTS,
        "big.safetensors.index.json: index is 67,108,865 bytes, over the 64 MiB limit",
        id="model file: index over 64 MiB",
    ),
    pytest.param(
        lambda t, m: ["count", safetensors_file(t, "ok.safetensors", {"a.w": F32x2}), "-p", "type:Linear"],
        X.RULE,
        "'type:' rules need module information",
        id="model file: type rule on a checkpoint",
    ),
    pytest.param(
        lambda t, m: ["count", malicious_pt(t, "evil.pt")],
        X.UNSAFE_PICKLE,
        "evil.pt: loading this file would run code",
        id="model file: malicious pickle",
    ),
    pytest.param(
        lambda t, m: ["count", malicious_pt(t, "evil.pth", "legacy")],
        X.UNSAFE_PICKLE,
        "evil.pth: loading this file would run code",
        id="model file: malicious legacy pickle",
    ),
    pytest.param(
        lambda t, m: ["count", malicious_pt(t, "evil.bin", "pickle")],
        X.UNSAFE_PICKLE,
        "evil.bin: loading this file would run code",
        id="model file: malicious bare pickle",
    ),
    # -- weight files given with --weights-file --------------------------------------
    pytest.param(
        lambda t, m: ["count", TIED, "--weights-file", write(t, "w.pt", b"")],
        X.WEIGHTS,
        "w.pt: file is empty",
        id="weights-file: empty",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--weights-file", truncated_pt(t, "w.pt")],
        X.WEIGHTS,
        "w.pt: damaged",
        id="weights-file: truncated",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--weights-file", write(t, "w.safetensors", random_bytes(3000))],
        X.WEIGHTS,
        "w.safetensors",
        id="weights-file: random bytes",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--weights-file", foreign_zip(t, "w.pth")],
        X.WEIGHTS,
        "w.pth",
        id="weights-file: foreign zip",
    ),
    pytest.param(
        lambda t, m: ["count", "resnet18", "--weights-file", torch_save(t, "w.pt", tiny_state_dict())],
        X.WEIGHTS,
        "w.pt: does not match the model; missing keys: conv1.weight",
        id="weights-file: keys do not match resnet18",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--weights-file", torch_save(t, "w.pt", tiny_state_dict(vocab=9))],
        X.WEIGHTS,
        "w.pt: does not match the model; shape mismatches (file vs model): embed.weight (9, 4) vs (8, 4)",
        id="weights-file: shapes do not match",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--weights-file", safetensors_file(t, "w.safetensors", b"{}", 0, length=2**40)],
        X.WEIGHTS,
        "w.safetensors: not a safetensors file (its header length is over",
        id="weights-file: absurd header length",
    ),
    pytest.param(
        lambda t, m: [
            "count",
            TIED,
            "--weights-file",
            safetensors_file(t, "w.safetensors", {"a": F32x2, "b": {**F32x2, "data_offsets": [4, 12]}}),
        ],
        X.WEIGHTS,
        "overlap",
        id="weights-file: overlapping offsets",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--weights-file", safetensors_file(t, "w.safetensors", {"a": F32x2}, 2)],
        X.WEIGHTS,
        "w.safetensors: tensor 'a': data ends at byte 8",
        id="weights-file: data past the end",
    ),
    pytest.param(
        lambda t, m: [
            "count",
            TIED,
            "--weights-file",
            torch_save(t, "w.pt", {**tiny_state_dict(), "embed.weight": "abc"}),
        ],
        X.WEIGHTS,
        "w.pt: does not match the model; values that are not tensors: embed.weight (str)",
        id="weights-file: a string where a tensor belongs",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--weights-file", "gone.pt"],
        X.WEIGHTS,
        "gone.pt: no such file",
        id="weights-file: missing",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--weights-file", str((t / "wdir").mkdir() or "wdir")],
        X.WEIGHTS,
        "wdir: is a directory",
        id="weights-file: a directory",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--weights-file", malicious_pt(t, "evil.pt")],
        X.UNSAFE_PICKLE,
        "evil.pt: loading this file would run code",
        id="weights-file: malicious pickle",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--weights-file", malicious_pt(t, "evil.pt"), "--save", "out.pt"],
        X.UNSAFE_PICKLE,
        "evil.pt: loading this file would run code",
        id="weights-file: malicious pickle with --save",
    ),
    # -- output paths -----------------------------------------------------------------
    pytest.param(
        lambda t, m: ["freeze", TIED, "--save", "nodir/out.pt"],
        X.OUTPUT,
        "nodir/out.pt: the folder nodir does not exist",
        id="output: save into a missing folder",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--manifest", "nodir/m.json"],
        X.OUTPUT,
        "nodir/m.json: the folder nodir",
        id="output: manifest into a missing folder",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--export", "nodir/r.svg"],
        X.OUTPUT,
        "nodir/r.svg: the folder nodir",
        id="output: export into a missing folder",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--save", write(t, "file.txt", "x") + "/out.pt"],
        X.OUTPUT,
        "file.txt/out.pt",
        id="output: save under a regular file",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--manifest", write(t, "file.txt", "x") + "/m.json"],
        X.OUTPUT,
        "file.txt/m.json",
        id="output: manifest under a regular file",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--manifest", in_proc("freezekit-m.json")],
        X.OUTPUT,
        "/proc/freezekit-m.json",
        id="output: manifest in /proc",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--save", "out.pt", "--manifest", in_proc("freezekit-m.json")],
        X.OUTPUT,
        "/proc/freezekit-m.json",
        id="output: save fine but manifest in /proc",
    ),
    pytest.param(
        lambda t, m: ["count", TIED, "--export", in_proc("freezekit.svg")],
        X.OUTPUT,
        "/proc/freezekit.svg",
        id="output: export in /proc",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--save", str((t / "odir.pt").mkdir() or "odir.pt")],
        X.OUTPUT,
        "odir.pt: is a directory",
        id="output: save onto a directory",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--save", "out.bin"],
        X.OUTPUT,
        "--save out.bin: the file name must end in",
        id="output: save suffix",
    ),
    pytest.param(
        lambda t, m: [
            "freeze",
            TIED,
            "--weights-file",
            torch_save(t, "a.pt", tiny_state_dict()),
            "--save",
            "a.pt",
            "--force",
        ],
        X.OUTPUT,
        "a.pt: is also an input",
        id="output: save over the weights file",
    ),
    pytest.param(
        lambda t, m: [
            "freeze",
            TIED,
            "--weights-file",
            torch_save(t, "a.pt", tiny_state_dict()),
            "--manifest",
            "a.pt",
            "--force",
        ],
        X.OUTPUT,
        "a.pt: is also an input",
        id="output: manifest over the weights file",
    ),
    pytest.param(
        lambda t, m: ["freeze", "-c", write(t, "c.yaml", f"model: '{TIED}'\n"), "--manifest", "c.yaml", "--force"],
        X.OUTPUT,
        "c.yaml: is also an input",
        id="output: manifest over the config",
    ),
    pytest.param(
        lambda t, m: [
            "freeze",
            write(t, "f.py", "from torch import nn\n\ndef build():\n    return nn.Linear(2, 2)\n") + ":build",
            "--manifest",
            "f.py",
            "--force",
        ],
        X.OUTPUT,
        "f.py: is also an input",
        id="output: manifest over the factory file",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--save", write(t, "out.pt", b"old")],
        X.OUTPUT,
        "out.pt: already exists; pass --force",
        id="output: save exists without --force",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--manifest", write(t, "m.json", "{}")],
        X.OUTPUT,
        "m.json: already exists; pass --force",
        id="output: manifest exists without --force",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--save", "out.pt", "--manifest", write(t, "m.json", "{}")],
        X.OUTPUT,
        "m.json: already exists",
        id="output: second destination exists",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--save", "out.pt", "-p", "nothing.here"],
        X.NO_MATCH,
        "'freeze nothing.here'",
        id="output: failed plan writes no save",
    ),
    pytest.param(
        lambda t, m: ["freeze", TIED, "--save", "out.pt", "--manifest", "m.json", "--expect-total", "1"],
        X.EXPECTATION,
        "expected total 1",
        id="output: failed expectation writes nothing",
    ),
    # -- manifests for `check` ------------------------------------------------------
    pytest.param(
        lambda t, m: ["check", "gone.json"], X.CONFIG, "gone.json: no such manifest file", id="manifest: missing"
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", "{")],
        X.CONFIG,
        "m.json: not a JSON manifest",
        id="manifest: not JSON",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", b"\xff{}")], X.CONFIG, "m.json: not UTF-8", id="manifest: not UTF-8"
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", "[]")],
        X.CONFIG,
        "m.json: not a freezekit manifest",
        id="manifest: a JSON list",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", '{"schema": "freezekit.report"}')],
        X.CONFIG,
        "m.json: not a freezekit manifest",
        id="manifest: wrong schema",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", manifest_doc(schema_version=3))],
        X.CONFIG,
        "m.json: manifest schema_version 3 is not supported",
        id="manifest: future schema_version",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", manifest_doc(rules=None))],
        X.CONFIG,
        "m.json: damaged manifest",
        id="manifest: missing rules",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", manifest_doc(model={"kind": "torchvision"}))],
        X.CONFIG,
        "m.json: damaged manifest",
        id="manifest: model without source",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", manifest_doc(rules=5))],
        X.CONFIG,
        "m.json: damaged manifest",
        id="manifest: rules not a list",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", manifest_doc(rules=[{"action": "melt", "pattern": "fc"}]))],
        X.CONFIG,
        "m.json: damaged manifest",
        id="manifest: unknown rule action",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", manifest_doc(rules=[{"action": "freeze", "pattern": 5}]))],
        X.CONFIG,
        "m.json: damaged manifest",
        id="manifest: pattern not a string",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", manifest_doc(rules=["fc"]))],
        X.CONFIG,
        "m.json: damaged manifest",
        id="manifest: rule not an object",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", manifest_doc(default="nonsense"))],
        X.CONFIG,
        "m.json: damaged manifest",
        id="manifest: unknown default",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", manifest_doc(frozen="fc.weight"))],
        X.CONFIG,
        "m.json: damaged manifest",
        id="manifest: frozen is a string",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", manifest_doc(parameters=[]))],
        X.CONFIG,
        "m.json: damaged manifest",
        id="manifest: parameters is a list",
    ),
    pytest.param(
        lambda t, m: [
            "check",
            write(t, "m.json", manifest_doc(model={"source": "resnet18", "kind": "torchvision", "args": "ab"})),
        ],
        X.CONFIG,
        "m.json: damaged manifest",
        id="manifest: args is a string",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", "[" * 100_000 + "]" * 100_000)],
        X.CONFIG,
        "m.json",
        id="manifest: nested 100000 deep",
    ),
    pytest.param(
        lambda t, m: ["check", sparse_file(t, "m.json", (256 << 20) + 1)],
        X.CONFIG,
        "m.json: 268,435,457 bytes is over the 268,435,456-byte limit",
        id="manifest: over 256 MiB",
    ),
    pytest.param(
        lambda t, m: ["check", write(t, "m.json", manifest_doc(model={"source": "resnet1888", "kind": "torchvision"}))],
        X.MODEL,
        "unknown model 'resnet1888'",
        id="manifest: unknown model",
    ),
    pytest.param(
        lambda t, m: [
            "check",
            write(
                t,
                "m.json",
                manifest_doc(model={"source": "resnet18", "kind": "torchvision", "weights_file": "gone.pt"}),
            ),
        ],
        X.WEIGHTS,
        "gone.pt: no such file",
        id="manifest: weights file missing",
    ),
]


def snapshot(root: pathlib.Path) -> dict[str, int]:
    """Every file and link under root (hidden ones too), with its modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = pathlib.Path(dirpath) / name
            out[str(path.relative_to(root))] = path.lstat().st_mtime_ns if not path.is_dir() else 0
    return out


@pytest.mark.parametrize("build, code, fragment", CASES)
def test_bad_input_fails_cleanly(cli, tmp_path, monkeypatch, build, code, fragment):
    monkeypatch.chdir(tmp_path)
    args = build(tmp_path, monkeypatch)
    before = snapshot(tmp_path)
    exit_code, out, err = cli(*args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in out + err
    assert len(lines) == 1, err
    assert lines[0].startswith("freezekit: error: "), err
    assert fragment in lines[0], lines[0]
    assert exit_code == code, (exit_code, err)
    assert snapshot(tmp_path) == before, "the command wrote or changed files"
    assert not (tmp_path / MARKER).exists()


# -- the limits are exact: one step below each limit is accepted ----------------------------


def test_limits_accept_what_is_just_under_them(tmp_path, monkeypatch):
    from freezekit.core.config import MAX_CONFIG_BYTES, MAX_DEPTH, MAX_RULES, load_config
    from freezekit.sources import safetensors_header
    from freezekit.sources.safetensors_header import read_header

    rules = "model: resnet18\nrules:\n" + "  - freeze: fc\n" * MAX_RULES
    path = tmp_path / "rules.yaml"
    path.write_text(rules)
    assert len(load_config(path).rules) == MAX_RULES
    exact = "model: resnet18\n"
    path.write_text(exact + "#" * (MAX_CONFIG_BYTES - len(exact)))
    assert path.stat().st_size == MAX_CONFIG_BYTES and load_config(path).model.name == "resnet18"
    # depth counts from the document: model (1), args (2), then 14 mappings put the value at 16
    nested = "{a: " * (MAX_DEPTH - 2) + "1" + "}" * (MAX_DEPTH - 2)
    path.write_text(f"model: {{factory: 'pkg.mod:build', args: {nested}}}\n")
    assert load_config(path).model.args["a"]["a"]
    path.write_text(f"model: {{factory: 'pkg.mod:build', args: {{a: {nested}}}}}\n")
    with pytest.raises(ConfigError, match="nested deeper than 16 levels"):
        load_config(path)
    monkeypatch.setattr(safetensors_header, "MAX_TENSORS", 3)
    header = {f"t{i}": {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]} for i in range(3)}
    assert len(read_header(tmp_path / safetensors_file(tmp_path, "three.safetensors", header)).tensors) == 3
