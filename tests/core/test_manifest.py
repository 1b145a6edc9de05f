"""The freeze manifest: written, read back, and compared with the model now (no torch)."""

import json
from dataclasses import replace

import pytest

from freezekit.core.manifest import SCHEMA, build_manifest, compare, load_manifest
from freezekit.core.plan import Default, make_plan
from freezekit.core.records import ParamRecord
from freezekit.core.report import ModelInfo
from freezekit.core.rules import Rule
from freezekit.errors import ConfigError

from ..records_for_tests import MINI_TOTAL, mini_vgg

MODEL = ModelInfo("mini_vgg", "torchvision", None, None, {"num_classes": 10})
RULES = (Rule("freeze", "features.*", "--pattern"),)


def _written(tmp_path, plan, inventory) -> str:
    path = tmp_path / "lock.json"
    path.write_text(json.dumps(build_manifest(MODEL, plan, inventory)))
    return str(path)


def test_a_manifest_reads_back_what_was_written_and_matches_its_model(tmp_path):
    inventory = mini_vgg()
    plan = make_plan(inventory, RULES)
    doc = build_manifest(MODEL, plan, inventory)
    assert doc["schema"] == SCHEMA and doc["counts"] == {"parameters": MINI_TOTAL, "frozen": MINI_TOTAL - 50}
    manifest = load_manifest(_written(tmp_path, plan, inventory))
    assert manifest.model == MODEL and manifest.default is Default.TRAINABLE and manifest.rules == RULES
    assert manifest.frozen == tuple(plan.frozen_names)
    drift = compare(manifest, plan, inventory)
    assert not drift.drifted and drift.lines() == [] and drift.fingerprint_now == manifest.fingerprint


def test_drift_names_what_changed(tmp_path):
    inventory = mini_vgg()
    manifest = load_manifest(_written(tmp_path, make_plan(inventory, RULES), inventory))
    grown = replace(
        inventory,
        params=inventory.params[:-1]
        + (
            ParamRecord("classifier.0.bias", (12,), "float16", "classifier.0", "Linear"),
            ParamRecord("classifier.1.weight", (2, 2), "float32", "classifier.1", "Linear"),
        ),
    )
    drift = compare(manifest, make_plan(grown, RULES + (Rule("freeze", "classifier.1"),)), grown)
    assert drift.added == ("classifier.1.weight",) and drift.removed == ()
    assert drift.changed == ("classifier.0.bias: 10:float16 -> 12:float16",)
    assert drift.newly_frozen == ("classifier.1.weight",) and drift.newly_trainable == ()
    assert drift.lines() == [
        "parameters added (1): classifier.1.weight",
        "shape or dtype changed (1): classifier.0.bias: 10:float16 -> 12:float16",
        "now frozen, were trainable (1): classifier.1.weight",
        "fingerprint: manifest sha256:b181b3de5844a4c9016967fed4773d0f9f3a3bc154cecdbe9008eed56b550fea,"
        " model sha256:c36b127cd9d34206f1cb3c3629a9db870afe4497a498d67b9c998de1655dc97d",
    ]


def test_a_hand_edited_parameter_table_is_drift(tmp_path):
    inventory = mini_vgg()
    plan = make_plan(inventory, RULES)
    path = _written(tmp_path, plan, inventory)
    doc = json.loads(open(path).read())
    doc["parameters"]["features.0.bias"] = "5:float32"
    open(path, "w").write(json.dumps(doc))
    drift = compare(load_manifest(path), plan, inventory)
    assert drift.manifest_edited and drift.changed == ("features.0.bias: 5:float32 -> 4:float32",)


def test_a_manifest_with_an_unknown_default_is_damaged(tmp_path):
    inventory = mini_vgg()
    path = _written(tmp_path, make_plan(inventory, RULES), inventory)
    doc = json.loads(open(path).read())
    doc["default"] = "thawed"
    open(path, "w").write(json.dumps(doc))
    with pytest.raises(ConfigError, match="damaged manifest: 'default' must be one of trainable, frozen, keep"):
        load_manifest(path)
