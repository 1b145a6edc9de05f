"""The JSON of `groups` and `count --stages` (also `freeze --stages`) shows exactly the keys docs/OUTPUT.md documents (pure: records)."""

from __future__ import annotations

import io
import json

from freezekit.core.blocks import layer_ids
from freezekit.core.groups import GroupsView, plan_groups
from freezekit.core.plan import make_plan
from freezekit.core.records import Inventory, ModuleRecord, ParamRecord
from freezekit.core.rules import Rule
from freezekit.core.stages import stage_rows
from freezekit.core.training_config import LrScale, OptimizerSection, Stage
from freezekit.render.training_render import write_groups, write_stages
from tests.render.test_output_docs import documented, key_paths


def _inventory() -> Inventory:
    modules = (
        ModuleRecord("", "Net"),
        ModuleRecord("stem", "Linear"),
        ModuleRecord("blocks", "Sequential", ("Sequential",)),
        ModuleRecord("blocks.0", "Block"),
        ModuleRecord("blocks.0.fc", "Linear"),
        ModuleRecord("blocks.1", "Block"),
        ModuleRecord("blocks.1.fc", "Linear"),
        ModuleRecord("head", "Linear"),
    )
    params = tuple(
        ParamRecord(f"{m}.{w}", (4, 4) if w == "weight" else (4,), "float32", m, "Linear")
        for m in ("stem", "blocks.0.fc", "blocks.1.fc", "head")
        for w in ("weight", "bias")
    )
    return Inventory(params, modules=modules)


def test_layer_ids_by_the_repeated_blocks_rule():
    assert layer_ids(_inventory()) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_groups_json_keys_are_documented():
    section = OptimizerSection(0.05, layer_decay=0.5, lr_scale=(LrScale("head", 10.0),))
    inventory = _inventory()
    view = GroupsView("net", section, plan_groups(inventory, section, layer_ids(inventory)), lr=0.1)
    out = io.StringIO()
    write_groups(view, "json", out)
    data, doc = json.loads(out.getvalue()), documented()["freezekit.groups"]
    assert key_paths(data, doc=doc) == key_paths(doc, doc=doc)
    assert [(g["name"], g["lr_scale"], g["lr"]) for g in data["groups"]][-2:] == [
        ("layer_3_decay", 10.0, 1.0),
        ("layer_3_no_decay", 10.0, 1.0),
    ]


def test_stages_json_keys_are_documented():
    inventory = _inventory()
    stages = (
        Stage(0, 0, (Rule("freeze", "*"), Rule("unfreeze", "head"))),
        Stage(1, 3, (Rule("unfreeze", "blocks.1"),), 0.1),
    )
    rows = stage_rows(inventory, make_plan(inventory, ()), stages)
    out = io.StringIO()
    write_stages("net", rows, "json", out)
    data, doc = json.loads(out.getvalue()), documented()["freezekit.stages"]
    assert key_paths(data, doc=doc) == key_paths(doc, doc=doc)
    assert [(s["trainable"], s["unfrozen"], s["newly_frozen_tensors"]) for s in data["stages"]] == [
        (20, 0, 6),
        (40, 20, 0),
    ]
