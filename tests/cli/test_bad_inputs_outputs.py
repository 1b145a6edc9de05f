"""The hostile-input corpus, part two: outputs, interrupts, text from files, selection edge cases.

Same contract as tests/test_bad_inputs.py: every case exits with its documented code, prints
exactly one non-empty stderr line (`freezekit: error:`, or `freezekit: warning:` for the cases
that succeed), shows no traceback, leaves the files in its folder exactly as they were, and here
also prints no control character (ESC, a stray carriage return...) anywhere. A case may add a
text its stdout must contain. Builders get the case's folder, pytest's monkeypatch and an
ExitStack for process-wide settings they must undo (a file-size limit, a signal handler).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import signal

import pytest

from freezekit.atomic_write import TMP_MARK
from freezekit.errors import ExitCode as X
from tests.cli.test_bad_inputs import TIED, safetensors_file, snapshot, write

F32x2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
RESNET18_CACHE = "th/hub/checkpoints/resnet18-f37072fd.pth"  # where torch.hub keeps ResNet18_Weights.DEFAULT


def ckpt(tmp: pathlib.Path, *names: str, file: str = "m.safetensors") -> str:
    """A safetensors checkpoint holding one float32[2] tensor per name."""
    header = {n: {**F32x2, "data_offsets": [8 * i, 8 * i + 8]} for i, n in enumerate(names)}
    return safetensors_file(tmp, file, header)


def factory(tmp: pathlib.Path, body: str, name: str = "fac.py") -> str:
    write(tmp, name, "import torch\nfrom torch import nn\n\n\ndef build(**kwargs):\n" + body)
    return f"{name}:build"


def link(tmp: pathlib.Path, name: str, target: str) -> str:
    os.symlink(target, tmp / name)
    return name


def fifo(tmp: pathlib.Path, name: str) -> str:
    os.mkfifo(tmp / name)
    return name


def _disk_full(stack: contextlib.ExitStack, limit: int = 64 << 10) -> None:
    """A real failed write: RLIMIT_FSIZE makes every write past `limit` bytes fail with EFBIG."""
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the error, not the signal that kills
    stack.callback(signal.signal, signal.SIGXFSZ, previous)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    stack.callback(resource.setrlimit, resource.RLIMIT_FSIZE, (soft, hard))


def _save_on_full_disk(suffix: str):
    def build(t, m, stack):
        model = factory(t, "    return nn.Linear(256, 256)\n")  # 257 KiB of weights, over the 64 KiB limit
        _disk_full(stack)
        return ["freeze", model, "--save", f"big{suffix}", "--manifest", "big.json"]

    return build


def _pair(t: pathlib.Path) -> list:
    """An existing --save/--manifest pair, replaced with --force."""
    write(t, "out.pt", b"old weights")
    write(t, "m.json", "{}")
    return ["freeze", TIED, "--save", "out.pt", "--manifest", "m.json", "--force"]


def _second_rename_fails(exc: BaseException):
    """os.replace of the second temp file into place raises `exc` (the first one went through)."""

    def build(t, m, stack):
        real, calls = os.replace, []

        def replace(src, dst, **kw):
            if TMP_MARK in str(src) and not str(src).endswith("-old"):
                calls.append(src)
                if len(calls) == 2:
                    raise exc
            return real(src, dst, **kw)

        m.setattr(os, "replace", replace)
        return _pair(t)

    return build


def _interrupt_while_planning(sig: int | None):
    """A signal (or Ctrl-C's KeyboardInterrupt) arrives after the model was built."""

    def build(t, m, stack):
        from freezekit.pipeline import audit

        real = audit.build_report
        if sig is not None:  # should the handler be missing, fail the case instead of killing pytest
            previous = signal.signal(sig, lambda *a: (_ for _ in ()).throw(SystemExit(99)))
            stack.callback(signal.signal, sig, previous)

        def build_report(*args, **kwargs):
            if sig is None:
                raise KeyboardInterrupt
            os.kill(os.getpid(), sig)
            return real(*args, **kwargs)

        m.setattr(audit, "build_report", build_report)
        return ["freeze", TIED, "--save", "out.pt", "--manifest", "m.json"]

    return build


def _into_dev(t, m, stack) -> list:
    """A new file in /dev (root may create one). Not /dev/stdout itself: should the check ever
    regress, this case must not replace the machine's /dev/stdout link; the link cases above
    cover names that lead there."""
    target = pathlib.Path("/dev/freezekit-corpus.json")

    def remove_if_written() -> None:
        if target.is_file() and not target.is_symlink():
            target.unlink()

    stack.callback(remove_if_written)
    return ["freeze", TIED, "--manifest", str(target), "--force"]


def _over_the_hub_cache(flag: str):
    def build(t, m, stack):
        m.setenv("TORCH_HOME", str(t / "th"))
        write(t, RESNET18_CACHE, b"cached weights")
        return ["freeze", "resnet18", "--weights", "DEFAULT", flag, RESNET18_CACHE, "--force"]

    return build


ESC_NAME = "a\x1b[31mred\x1b[0m.w"
FORGED = "b\nfreezekit: error: forged.w"

# (builder, exit code, fragment of the one stderr line, text stdout must contain or None)
CASES = [
    # -- 4. writes that stay whole and go only where asked ----------------------------------------
    pytest.param(
        lambda t, m, s: ["freeze", TIED, "--manifest", "r.svg", "--export", "r.svg"],
        X.OUTPUT,
        "r.svg: --manifest and --export name the same file",
        None,
        id="output: manifest and export the same",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", TIED, "--save", "o.pt", "--manifest", "./o.pt"],
        X.OUTPUT,
        "--save and --manifest name the same file",
        None,
        id="output: save and manifest, two spellings",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", TIED, "--manifest", link(t, "lnk.svg", "r.svg"), "--export", "r.svg", "--force"],
        X.OUTPUT,
        "--manifest and --export name the same file",
        None,
        id="output: manifest links to the export",
    ),
    pytest.param(
        _over_the_hub_cache("--save"), X.OUTPUT, "is also an input", None, id="output: save over the --weights cache"
    ),
    pytest.param(
        _over_the_hub_cache("--manifest"),
        X.OUTPUT,
        "is also an input",
        None,
        id="output: manifest over the --weights cache",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", TIED, "--manifest", fifo(t, "m.json"), "--force"],
        X.OUTPUT,
        "m.json: exists and is not a regular file",
        None,
        id="output: manifest onto a FIFO with --force",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", TIED, "--save", fifo(t, "w.pt"), "--force"],
        X.OUTPUT,
        "w.pt: exists and is not a regular file",
        None,
        id="output: save onto a FIFO with --force",
    ),
    pytest.param(
        lambda t, m, s: ["count", TIED, "--export", fifo(t, "r.svg")],
        X.OUTPUT,
        "r.svg: exists and is not a regular file",
        None,
        id="output: export onto a FIFO",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", TIED, "--manifest", link(t, "m.json", "/dev/null"), "--force"],
        X.OUTPUT,
        "m.json: is a device or kernel path",
        None,
        id="output: manifest links to /dev/null",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", TIED, "--manifest", link(t, "out.json", "/dev/stdout"), "--force"],
        X.OUTPUT,
        "out.json: is a device or kernel path",
        None,
        id="output: manifest links to /dev/stdout",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", TIED, "--save", link(t, "w.pt", "/dev/full"), "--force"],
        X.OUTPUT,
        "w.pt: is a device or kernel path",
        None,
        id="output: save links to /dev/full",
    ),
    pytest.param(
        _into_dev,
        X.OUTPUT,
        "/dev/freezekit-corpus.json: is a device or kernel path",
        None,
        id="output: manifest into /dev",
    ),
    pytest.param(
        _save_on_full_disk(".safetensors"),
        X.OUTPUT,
        "big.safetensors: cannot write",
        None,
        id="output: safetensors on a full disk",
    ),
    pytest.param(_save_on_full_disk(".pt"), X.OUTPUT, "big.pt: cannot write", None, id="output: pt on a full disk"),
    pytest.param(
        lambda t, m, s: [
            "freeze",
            factory(t, "    with torch.device('meta'):\n        return nn.Linear(3, 2)\n"),
            "--save",
            "o.pt",
        ],
        X.WEIGHTS,
        "2 tensor(s) are on the meta device",
        None,
        id="output: save a meta model as .pt",
    ),
    pytest.param(
        lambda t, m, s: [
            "freeze",
            factory(t, "    with torch.device('meta'):\n        return nn.Linear(3, 2)\n"),
            "--save",
            "o.safetensors",
        ],
        X.WEIGHTS,
        "o.safetensors: 2 tensor(s) are on the meta device",
        None,
        id="output: save a meta model as .safetensors",
    ),
    pytest.param(
        lambda t, m, s: [
            "freeze",
            factory(
                t,
                "    m = nn.Linear(2, 2)\n    m.weight = nn.Parameter("
                "torch.zeros(2, 2, dtype=torch.complex128))\n    return m\n",
            ),
            "--save",
            "c.safetensors",
        ],
        X.WEIGHTS,
        "--save c.safetensors: dtype complex128 (weight) cannot be read back from a .safetensors file",
        None,
        id="output: save a dtype safetensors cannot hold",
    ),
    pytest.param(
        lambda t, m, s: [
            "freeze",
            factory(
                t,
                "    m = nn.Linear(2, 2)\n    m.weight = nn.Parameter(torch.zeros("
                "2, 2, dtype=torch.uint8).view(torch.bits8), False)\n    return m\n",
            ),
            "--save",
            "b.pt",
        ],
        X.WEIGHTS,
        "--save b.pt: dtype bits8 (weight) cannot be read back from a .pt file by freezekit; convert those tensors",
        None,
        id="output: save a dtype freezekit cannot size",
    ),
    pytest.param(
        lambda t, m, s: [
            "count",
            safetensors_file(t, "f4.safetensors", {"w": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}),
        ],
        X.WEIGHTS,
        "tensor 'w': F4 needs an even last dimension",
        None,
        id="output: F4 with an odd dimension",
    ),
    pytest.param(
        _second_rename_fails(OSError(errno.ENOSPC, "No space left on device")),
        X.OUTPUT,
        "out.pt and m.json: cannot write: No space left on device; nothing was written",
        None,
        id="output: second rename fails, first rolled back",
    ),
    pytest.param(
        _second_rename_fails(KeyboardInterrupt()),
        X.INTERRUPTED,
        "interrupted by SIGINT",
        None,
        id="output: Ctrl-C between the renames, first rolled back",
    ),
    pytest.param(
        _interrupt_while_planning(None),
        X.INTERRUPTED,
        "interrupted by SIGINT",
        None,
        id="signal: Ctrl-C while planning",
    ),
    pytest.param(
        _interrupt_while_planning(signal.SIGTERM),
        X.INTERRUPTED,
        "terminated by SIGTERM",
        None,
        id="signal: SIGTERM while planning",
    ),
    # -- 5. text from files is data ----------------------------------------------------------------
    pytest.param(
        lambda t, m, s: ["count", factory(t, "    return nn.Linear(2, 2)\n"), "--arg", "scale=.nan"],
        X.USAGE,
        "--arg 'scale=.nan': .nan is not a finite number",
        None,
        id="args: --arg .nan",
    ),
    pytest.param(
        lambda t, m, s: ["count", factory(t, "    return nn.Linear(2, 2)\n"), "--arg", "scale=-.inf"],
        X.USAGE,
        "-.inf is not a finite number",
        None,
        id="args: --arg -.inf",
    ),
    pytest.param(
        lambda t, m, s: ["count", "-c", write(t, "c.yaml", "model: {factory: 'fac.py:build', args: {s: .inf}}\n")],
        X.CONFIG,
        "c.yaml: model.args.s (line 1): must be a finite number",
        None,
        id="args: config .inf",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", ckpt(t, "[/x].w", "y.w"), "--depth", "1", "--expect-total", "1"],
        X.EXPECTATION,
        "expected total 1",
        "[/x]",
        id="text: tensor named [/x].w",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", ckpt(t, "0.weight", "1.weight"), "-p", "0.weigh[/t]", "--expect-total", "1"],
        X.EXPECTATION,
        "expected total 1",
        "freeze 0.weigh[/t]",
        id="text: pattern 0.weigh[/t]",
    ),
    pytest.param(
        lambda t, m, s: [
            "freeze",
            ckpt(t, "a.weight", "ab.weight"),
            "-p",
            r"re:[a-z0-9]\.weight",
            "--expect-total",
            "1",
        ],
        X.EXPECTATION,
        "expected total 1",
        r"freeze re:[a-z0-9]\.weight",
        id="text: regex class kept in the Rule column",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", ckpt(t, "x.w", file="[bold]x.safetensors"), "--expect-total", "1"],
        X.EXPECTATION,
        "expected total 1",
        "[bold]x.safetensors: parameters",
        id="text: file name with markup",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", ckpt(t, ESC_NAME), "--expect-total", "1"],
        X.EXPECTATION,
        "expected total 1",
        r"a\x1b[31mred\x1b[0m.w",
        id="text: ESC in a name, table",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", ckpt(t, ESC_NAME), "-f", "markdown", "--expect-total", "1"],
        X.EXPECTATION,
        "expected total 1",
        r"`a\x1b[31mred\x1b[0m.w`",
        id="text: ESC in a name, Markdown",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", ckpt(t, ESC_NAME, "=HYPERLINK(1).w"), "-f", "csv", "--expect-total", "1"],
        X.EXPECTATION,
        "expected total 1",
        "'=HYPERLINK(1).w,2,2",
        id="text: ESC and a formula in a name, CSV",
    ),
    pytest.param(
        lambda t, m, s: ["freeze", ckpt(t, FORGED, "c.w"), "--depth", "1", "--expect-total", "1"],
        X.EXPECTATION,
        "expected total 1",
        r"b\nfreezekit: error: forged",
        id="text: newline in a module name",
    ),
    pytest.param(
        lambda t, m, s: ["count", ckpt(t, FORGED, "c.w"), "-p", "b\nfreezekit: error: forget.w", "--allow-unmatched"],
        X.OK,
        r"nearest names: b\nfreezekit: error: forged",
        None,
        id="text: newline in a name in a warning",
    ),
    # -- 7. selection agrees with fnmatchcase --------------------------------------------------------
    pytest.param(
        lambda t, m, s: [
            "count",
            ckpt(t, "layer1.w", "layer].w", "layer2.w"),
            "-p",
            "layer[]1].*",
            "--expect-frozen",
            "5",
        ],
        X.EXPECTATION,
        "expected frozen 5 but the plan gives 4",
        None,
        id="select: glob class starting with ]",
    ),
    pytest.param(
        lambda t, m, s: ["count", ckpt(t, "w\U0010ffff.x", "v.x"), "-p", "w*", "--expect-frozen", "3"],
        X.EXPECTATION,
        "expected frozen 3 but the plan gives 2",
        None,
        id="select: w* and a name with U+10FFFF",
    ),
]


@pytest.mark.parametrize("build, code, fragment, stdout_has", CASES)
def test_bad_input_fails_cleanly(cli, tmp_path, monkeypatch, build, code, fragment, stdout_has):
    monkeypatch.chdir(tmp_path)
    with contextlib.ExitStack() as stack:
        args = build(tmp_path, monkeypatch, stack)
        before = snapshot(tmp_path)
        exit_code, out, err = cli(*args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in out + err
    assert all(c == "\n" or c.isprintable() for c in out + err), "control characters in the output"
    assert len(lines) == 1, err
    assert lines[0].startswith("freezekit: warning: " if code == X.OK else "freezekit: error: "), err
    assert fragment in lines[0], lines[0]
    assert exit_code == code, (exit_code, err)
    if stdout_has is not None:
        assert stdout_has in out, out
    assert snapshot(tmp_path) == before, "the command wrote or changed files"
