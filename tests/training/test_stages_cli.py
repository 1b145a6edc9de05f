"""`freezekit count --stages`: one row per stage, from the inventory alone; strict stages name themselves."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from freezekit.cli.app import app

ENV = {"NO_COLOR": "1", "COLUMNS": "200"}
MODEL = "model: {factory: 'tests.training.training_models:TinyViT'}\n"


def _run(tmp_path, text, *args):
    path = tmp_path / "stages.yaml"
    path.write_text(MODEL + text)
    return CliRunner().invoke(app, ["count", "-c", str(path), "--stages", *args], env=ENV)


STAGES = """rules: [{freeze: embed}]
stages:
  - {at: 0, freeze: ["*"], unfreeze: [head]}
  - {at: 2, unfreeze: [blocks.2, norm], lr_scale: 0.1}
  - {at: 4, unfreeze: ["blocks.[01]"], lr_scale: 0.05}
"""


def test_one_row_per_stage(tmp_path):
    result = _run(tmp_path, STAGES, "-f", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["stages"]
    assert [
        (r["at"], r["trainable"], r["frozen"], r["unfrozen_tensors"], r["unfrozen"], r["newly_frozen_tensors"])
        for r in rows
    ] == [(0, 15, 124, 0, 0, 15), (2, 51, 88, 6, 36, 0), (4, 107, 32, 8, 56, 0)]
    table = _run(tmp_path, STAGES).stdout.splitlines()
    assert table[0] == "3 stages of tests.training.training_models:TinyViT"
    assert table[4].split() == ["1", "2", "0.1", "51", "88", "6", "36", "0"]


def test_a_stage_selecting_nothing_exits_8_naming_it(tmp_path):
    result = _run(tmp_path, "stages:\n  - {at: 0, freeze: ['*']}\n  - {at: 3, unfreeze: [blocks.9]}\n")
    assert result.exit_code == 8 and result.stdout == ""
    assert result.stderr.startswith(
        "freezekit: error: stages[1] (at 3): rule 'unfreeze blocks.9' (stages[1].unfreeze) selects no parameter"
    )


def test_no_stages_section_is_a_usage_error(tmp_path):
    result = _run(tmp_path, "rules: [{freeze: embed}]\n")
    assert result.exit_code == 2
    assert result.stderr == "freezekit: error: --stages: the config has no 'stages:' section (see docs/training.md)\n"


PLAN = ("--memory-plan", "--world-size", "2", "--strategy", "zero2", "--precision", "bf16-mixed")


def test_each_stage_gets_its_memory_plan(tmp_path):
    """ZeRO-2 under bf16-mixed on 2 ranks: 2 B for each of the 139 parameters, and per trainable
    one 2 B of gradient and 12 B of fp32 master and Adam states, halved: 278 + 14 x trainable / 2."""
    result = _run(tmp_path, STAGES, *PLAN, "-f", "json")
    assert result.exit_code == 0, result.output
    plans = [s["memory_plan"] for s in json.loads(result.stdout)["stages"]]
    assert [p["per_rank"]["total"] for p in plans] == [278 + 7 * 15, 278 + 7 * 51, 278 + 7 * 107]
    assert {(p["strategy"], p["world_size"], p["precision"]) for p in plans} == {("zero2", 2, "bf16-mixed")}
    table = _run(tmp_path, STAGES, *PLAN).stdout.splitlines()
    assert table[0] == (
        "3 stages of tests.training.training_models:TinyViT "
        "(memory plan per rank: zero2, world size 2, adamw, bf16-mixed)"
    )
    assert table[1].split()[-1] == "per_rank_bytes" and table[5].split()[-1] == "1,027"
    assert _run(tmp_path, STAGES, *PLAN, "-f", "csv").stdout.splitlines()[3].endswith(",1027")


def test_stages_refuse_what_needs_one_model(tmp_path):
    result = _run(tmp_path, STAGES, "--memory-plan", "--activations", "--batch-size", "2")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "freezekit: error: --stages takes --memory-plan and its options, not --shard-by, --fsdp-flat or --activations\n"
    )
