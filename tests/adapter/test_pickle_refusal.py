"""A malicious pickle, offered every way a file can enter freezekit, runs nothing without --trust-pickle."""

import json
from pathlib import Path

import pytest

from freezekit.errors import ExitCode

from ..cli.test_bad_inputs import MARKER, malicious_pt

TIED = f"{Path(__file__).parents[1] / 'models_for_tests.py'}:build_tied"


def manifest_naming(tmp: Path, source: str, weights_file: str | None) -> str:
    doc = {
        "schema": "freezekit.manifest",
        "schema_version": 1,
        "model": {"source": source, "kind": "x", "weights": None, "weights_file": weights_file, "args": {}},
        "default": "trainable",
        "rules": [],
        "frozen": [],
        "counts": {"parameters": 0, "frozen": 0},
        "fingerprint": "sha256:0",
        "parameters": {},
        "versions": {},
    }
    (tmp / "m.json").write_text(json.dumps(doc))
    return "m.json"


ENTRIES = {
    "MODEL .pt": lambda t: ["count", malicious_pt(t, "evil.pt")],
    "MODEL .ckpt": lambda t: ["count", malicious_pt(t, "evil.ckpt")],
    "MODEL legacy .pth": lambda t: ["count", malicious_pt(t, "evil.pth", "legacy")],
    "MODEL bare pickle .bin": lambda t: ["count", malicious_pt(t, "evil.bin", "pickle")],
    "--weights-file": lambda t: ["count", TIED, "--weights-file", malicious_pt(t, "evil.pt")],
    "--weights-file with --save": lambda t: [
        "freeze",
        TIED,
        "--weights-file",
        malicious_pt(t, "evil.pt"),
        "--save",
        "o.pt",
    ],
    "config model:": lambda t: ["count", "-c", _config(t, f"model: {malicious_pt(t, 'evil.pt')}\n")],
    "config weights_file:": lambda t: [
        "count",
        "-c",
        _config(t, f"model: '{TIED}'\nweights_file: {malicious_pt(t, 'evil.pt')}\n"),
    ],
    "manifest model": lambda t: ["check", manifest_naming(t, malicious_pt(t, "evil.pt"), None)],
    "manifest weights_file": lambda t: ["check", manifest_naming(t, TIED, malicious_pt(t, "evil.pt"))],
    "verify MODEL": lambda t: ["verify", malicious_pt(t, "evil.pt")],
    "verify --weights-file": lambda t: [
        "verify",
        TIED,
        "--weights-file",
        malicious_pt(t, "evil.pt"),
        "--input-shape",
        "3",
    ],
}


def _config(tmp: Path, text: str) -> str:
    (tmp / "c.yaml").write_text(text)
    return "c.yaml"


@pytest.mark.parametrize("entry", ENTRIES)
def test_malicious_pickle_runs_nothing(cli, tmp_path, monkeypatch, entry):
    monkeypatch.chdir(tmp_path)
    args = ENTRIES[entry](tmp_path)
    code, _, err = cli(*args)
    assert not (tmp_path / MARKER).exists(), "code from the file ran"
    expected = ExitCode.USAGE if entry == "verify MODEL" else ExitCode.UNSAFE_PICKLE  # verify refuses checkpoints first
    assert code == expected, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_the_payload_is_real(cli, tmp_path, monkeypatch):
    """With --trust-pickle the same file does run its code: the check above can fail."""
    monkeypatch.chdir(tmp_path)
    cli("count", malicious_pt(tmp_path, "evil.pt"), "--trust-pickle")
    assert (tmp_path / MARKER).exists()
