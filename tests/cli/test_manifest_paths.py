"""Paths read from a manifest stay inside the manifest's folder (STYLE.md, Trust boundaries): an
absolute path, a `..` escape or a symlink out is refused (exit 3); a relative path resolves against
the manifest's folder, wherever check runs from, and freeze records paths relative to it."""

from __future__ import annotations

import json
import os

import pytest

from freezekit.errors import ExitCode as X
from tests.cli.test_bad_inputs import F32x2, safetensors_file


def _manifest(tmp, source: str = "resnet18", kind: str = "torchvision", weights_file=None, **changes) -> str:
    doc = {
        "schema": "freezekit.manifest",
        "schema_version": 1,
        "model": {"source": source, "kind": kind, "weights": None, "weights_file": weights_file, "args": {}},
        "default": "trainable",
        "rules": [],
        "frozen": [],
        "fingerprint": "sha256:0",
        "parameters": {},
        "versions": {},
    }
    doc.update(changes)
    (tmp / "lock.json").write_text(json.dumps(doc))
    return str(tmp / "lock.json")


def _one_line(err: str) -> None:
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "key, field, value, problem",
    [
        ("weights_file", "model.weights_file", "/etc/passwd", "is an absolute path"),
        ("weights_file", "model.weights_file", "../outside.pt", "leaves the manifest's folder"),
        ("source", "model.source", "/etc/model.safetensors", "is an absolute path"),
        ("source", "model.source", "../outside.safetensors", "leaves the manifest's folder"),
        ("source", "model.source", "sub/../../outside.safetensors", "leaves the manifest's folder"),
    ],
)
def test_a_manifest_path_outside_its_folder_is_refused(cli, tmp_path, key, field, value, problem):
    (tmp_path / "proj" / "sub").mkdir(parents=True)
    safetensors_file(tmp_path, "outside.safetensors", {"a.w": F32x2})  # real: reading it would succeed
    kind = "safetensors" if key == "source" else "torchvision"
    path = _manifest(tmp_path / "proj", **{key: value, "kind": kind})
    code, out, err = cli("check", path)
    assert (code, out) == (X.CONFIG, "")
    assert err.startswith(f"freezekit: error: {path}: {field} '{value}' {problem}"), err
    _one_line(err)


def test_a_symlink_out_of_the_manifest_folder_is_refused(cli, tmp_path):
    (tmp_path / "proj").mkdir()
    safetensors_file(tmp_path, "outside.safetensors", {"a.w": F32x2})
    os.symlink(tmp_path / "outside.safetensors", tmp_path / "proj" / "inside.safetensors")
    path = _manifest(tmp_path / "proj", source="inside.safetensors", kind="safetensors")
    code, out, err = cli("check", path)
    assert (code, out) == (X.CONFIG, "")
    assert err.startswith(f"freezekit: error: {path}: model.source 'inside.safetensors' leaves the manifest's folder")
    _one_line(err)


def test_a_relative_checkpoint_path_resolves_against_the_manifest_folder(cli, tmp_path, monkeypatch):
    """freeze records the checkpoint relative to the manifest; check finds it from any folder."""
    proj = tmp_path / "proj"
    (proj / "models").mkdir(parents=True)
    safetensors_file(proj / "models", "m.safetensors", {"a.w": F32x2, "b.w": {**F32x2, "data_offsets": [8, 16]}})
    ckpt = proj / "models" / "m.safetensors"
    code, _, err = cli("freeze", ckpt, "-p", "a", "--manifest", proj / "lock.json")
    assert code == 0, err
    assert json.loads((proj / "lock.json").read_text())["model"]["source"] == "models/m.safetensors"
    monkeypatch.chdir(tmp_path)  # not the manifest's folder
    code, out, err = cli("check", proj / "lock.json")
    assert (code, err) == (0, "")
    assert out.startswith("manifest matches: 2 of 4 parameters frozen")


def test_a_weights_file_beside_the_manifest_is_recorded_and_found_relative_to_it(cli, tmp_path, monkeypatch):
    import torch

    from tests.cli.test_bad_inputs import TIED
    from tests.models_for_tests import build_tied

    proj = tmp_path / "proj"
    proj.mkdir()
    torch.save(build_tied().state_dict(), proj / "w.pt")
    code, _, err = cli("freeze", TIED, "--weights-file", proj / "w.pt", "-p", "head", "--manifest", proj / "lock.json")
    assert code == 0, err
    doc = json.loads((proj / "lock.json").read_text())
    assert doc["model"]["weights_file"] == "w.pt"
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("check", proj / "lock.json", "--trust-code")
    assert (code, err) == (0, ""), err
    assert out.startswith("manifest matches:")
