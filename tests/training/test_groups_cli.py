"""`freezekit groups`: one row per group, in each format; bad input exits with its code."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from freezekit.cli.app import app

ENV = {"NO_COLOR": "1", "COLUMNS": "200"}
FACTORY = "tests.training.training_models:TinyViT"


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "groups.yaml"
    path.write_text(
        f"model: {{factory: '{FACTORY}'}}\nrules:\n  - freeze: embed\n"
        "optimizer:\n  weight_decay: 0.05\n  layer_decay: 0.5\n  lr_scale: [{select: head, scale: 10}]\n"
    )
    return path


def _run(*args):
    return CliRunner().invoke(app, ["groups", *args], env=ENV)


def test_table_one_row_per_group(config):
    result = _run("-c", str(config), "--lr", "0.1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"10 parameter groups of {FACTORY}"
    assert lines[1].split() == ["group", "layer", "lr_scale", "lr", "weight_decay", "tensors", "numel"]
    assert lines[3].split() == ["layer_0_decay", "0", "0.0625", "0.00625", "0.05", "1", "4"]
    assert lines[-1].split() == ["layer_4_no_decay", "4", "10", "1", "0", "1", "3"]


def test_json_csv_markdown(config):
    data = json.loads(_run("-c", str(config), "-f", "json").stdout)
    assert data["totals"] == {"groups": 10, "tensors": 17, "numel": 111}
    assert data["groups"][1]["params"] == ["blocks.0.norm.weight", "blocks.0.norm.bias", "blocks.0.fc.bias"]
    assert data["optimizer"]["layer_decay"] == 0.5 and data["base_lr"] is None
    csv_lines = _run("-c", str(config), "-f", "csv").stdout.splitlines()
    assert csv_lines[:2] == ["group,layer,lr_scale,weight_decay,tensors,numel", "layer_0_decay,0,0.0625,0.05,1,4"]
    markdown = _run("-c", str(config), "-f", "markdown").stdout.splitlines()
    assert markdown[4] == "| layer\\_0\\_decay | 0 | 0.0625 | 0.05 | 1 | 4 |"


@pytest.mark.parametrize(
    "text, code, message",
    [
        ("optimizer:\n  layer_decay: 0\n", 3, "optimizer.layer_decay (line 3): must be a number in (0, 1], not 0"),
        ("optimizer:\n  lr_scale: [{select: hed, scale: 2}]\n", 8, "optimizer.lr_scale[0] 'hed' selects no parameter"),
        (
            "rules: [{freeze: head}]\noptimizer:\n  lr_scale: [{select: head, scale: 2}]\n",
            7,
            "selects only frozen parameters",
        ),
    ],
)
def test_bad_input_exits_with_one_line(tmp_path, text, code, message):
    path = tmp_path / "bad.yaml"
    path.write_text(f"model: {{factory: '{FACTORY}'}}\n" + text)
    result = _run("-c", str(path))
    assert result.exit_code == code
    assert message in result.stderr and result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
