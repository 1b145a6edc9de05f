"""`freezekit freeze --stages`: count --stages' rows in place of the per-parameter table, every format;
the freeze (--manifest) unchanged, and nothing written when the schedule is refused."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from freezekit.cli.app import app

from .test_stages_cli import MODEL, STAGES

ENV = {"NO_COLOR": "1", "COLUMNS": "200"}
RESNET = """model: resnet18
stages:
  - {at: 0, freeze: ["*"], unfreeze: [fc]}
  - {at: 2, unfreeze: [layer4], lr_scale: 0.1}
"""


def _run(tmp_path, text, command, *args):
    path = tmp_path / "stages.yaml"
    path.write_text(text)
    return CliRunner().invoke(app, [command, "-c", str(path), "--stages", *args], env=ENV)


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown"])
def test_freeze_prints_what_count_prints(tmp_path, fmt):
    freeze = _run(tmp_path, MODEL + STAGES, "freeze", "-f", fmt)
    count = _run(tmp_path, MODEL + STAGES, "count", "-f", fmt)
    assert freeze.exit_code == 0 and count.exit_code == 0, freeze.output + count.output
    if fmt == "markdown":  # the title names the command
        assert freeze.stdout.splitlines()[0] == "## freezekit freeze --stages: `tests.training.training_models:TinyViT`"
        assert freeze.stdout.splitlines()[1:] == count.stdout.splitlines()[1:]
    else:
        assert freeze.stdout == count.stdout


def test_a_torchvision_resnet_on_meta(tmp_path):
    result = _run(tmp_path, RESNET, "freeze", "-f", "json")
    assert result.exit_code == 0, result.output
    rows = [
        (r["at"], r["trainable"], r["frozen"], r["unfrozen_tensors"], r["unfrozen"], r["newly_frozen_tensors"])
        for r in json.loads(result.stdout)["stages"]
    ]
    assert rows == [(0, 513000, 11176512, 0, 0, 60), (2, 8906728, 2782784, 15, 8393728, 0)]


def test_the_freeze_still_writes_its_manifest(tmp_path):
    manifest = tmp_path / "m.json"
    result = _run(tmp_path, MODEL + STAGES, "freeze", "-f", "csv", "--manifest", str(manifest))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2] == "1,2,0.1,51,88,6,36,0"
    doc = json.loads(manifest.read_text())
    # the freeze is the one of `rules:` (the stages are shown; Schedule applies them while training)
    assert doc["counts"] == {"parameters": 139, "frozen": 28} and doc["frozen"] == ["embed.weight", "embed.bias"]
    assert [s["at"] for s in doc["training"]["stages"]] == [0, 2, 4]


def test_a_stage_selecting_nothing_writes_nothing(tmp_path):
    manifest = tmp_path / "m.json"
    bad = MODEL + "stages:\n  - {at: 0, freeze: ['*']}\n  - {at: 3, unfreeze: [blocks.9]}\n"
    result = _run(tmp_path, bad, "freeze", "--manifest", str(manifest))
    assert result.exit_code == 8 and result.stdout == "" and not manifest.exists()
    assert result.stderr.startswith("freezekit: error: stages[1] (at 3): rule 'unfreeze blocks.9'")


def test_no_stages_section_is_the_usage_error_count_gives(tmp_path):
    manifest = tmp_path / "m.json"
    result = _run(tmp_path, MODEL + "rules: [{freeze: embed}]\n", "freeze", "--manifest", str(manifest))
    assert result.exit_code == 2 and result.stdout == "" and not manifest.exists()
    assert result.stderr == "freezekit: error: --stages: the config has no 'stages:' section (see docs/training.md)\n"
