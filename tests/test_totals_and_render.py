import csv
import io
import json

import pytest

from freezekit.pipeline.audit import build_report
from freezekit.pipeline.settings import Settings
from freezekit.sources.registry import parse_source
from freezekit.sources.spec import Loaded
from freezekit.core.expectations import Expectations
from freezekit.core.plan import make_plan
from freezekit.render import FORMATS, RENDERERS, render, renderer
from freezekit.core.rules import Rule
from freezekit.core.totals import by_depth, compute_totals

from .records_for_tests import MINI_TOTAL, mini_vgg


def report(command="freeze", view="parameters", rules=(Rule("freeze", "features.*"),), depth=None, only=None,
           expect=Expectations()):
    inv = mini_vgg()
    options = Settings(source=parse_source("mini_vgg"), rules=tuple(rules), expect=expect)
    plan = make_plan(inv, options.rules)
    return build_report(command, view, Loaded(inv), plan, options, depth=depth, only=only)


def test_totals_exact():
    inv = mini_vgg()
    t = compute_totals(make_plan(inv, [Rule("freeze", "features.*")]), inv)
    assert (t.total, t.trainable, t.frozen) == (MINI_TOTAL, 50, MINI_TOTAL - 50)
    assert (t.tensors, t.trainable_tensors, t.frozen_tensors) == (10, 2, 8)
    assert t.bytes == (MINI_TOTAL - 10) * 4 + 10 * 2
    assert t.bytes_by_dtype == {"float16": 20, "float32": (MINI_TOTAL - 10) * 4}
    assert (t.buffers, t.buffer_tensors) == (9, 3)  # never counted as parameters
    assert t.trainable_pct == pytest.approx(100 * 50 / MINI_TOTAL)


def test_depth_rows():
    plan = make_plan(mini_vgg(), [Rule("freeze", "features.0")])
    assert [(r.name, r.total, r.trainable) for r in by_depth(plan, 1)] == [
        ("features", 452, 304), ("classifier", 50, 50)]
    assert [r.name for r in by_depth(plan, 2)] == [
        "features.0", "features.2", "features.3", "features.10", "classifier.0"]
    assert [(r.name, r.total) for r in by_depth(plan, 0)] == [("", MINI_TOTAL)]


def test_every_format_has_a_renderer():
    assert set(FORMATS) == set(RENDERERS)
    assert all(callable(renderer(fmt)) for fmt in FORMATS)
    for fmt in FORMATS:
        for view in ("parameters", "totals"):
            assert render(report(view=view), fmt).strip()


def test_json_schema_pinned():
    data = json.loads(render(report(), "json"))
    assert data["schema"] == "freezekit.report" and data["schema_version"] == 1
    assert list(data) == ["schema", "schema_version", "command", "model", "default", "rules", "totals",
                          "buffers", "parameters", "batchnorm", "expectations", "warnings"]
    assert data["totals"]["total"] == MINI_TOTAL and data["totals"]["trainable"] == 50
    assert data["totals"]["frozen"] == MINI_TOTAL - 50
    assert data["rules"] == [{"action": "freeze", "pattern": "features.*", "origin": "", "selected": 8}]
    assert data["parameters"][0] == {
        "name": "features.0.weight", "aliases": [], "shape": [4, 4, 3, 3], "numel": 144, "dtype": "float32",
        "trainable": False, "module": "features.0", "module_type": "Conv2d", "rule": "freeze features.*"}
    assert data["buffers"] == {"tensors": 3, "numel": 9}
    assert data["batchnorm"] == {"policy": "train", "layers": [
        {"name": "features.3", "type": "BatchNorm2d", "affine_trainable": False, "stats_update": True,
         "note": "frozen, yet updates in train()"}]}
    assert "parameters" not in json.loads(render(report(view="totals"), "json"))


def test_only_and_depth_filter_rows():
    data = json.loads(render(report(only="trainable"), "json"))
    assert [p["name"] for p in data["parameters"]] == ["classifier.0.weight", "classifier.0.bias"]
    data = json.loads(render(report(depth=1, only="frozen"), "json"))
    assert data["modules"] == [{"name": "features", "total": 452, "trainable": 0, "frozen": 452}]


def test_csv_rows():
    rows = list(csv.reader(io.StringIO(render(report(), "csv"))))
    assert rows[0][:5] == ["name", "shape", "numel", "dtype", "trainable"]
    assert rows[1][:5] == ["features.0.weight", "4x4x3x3", "144", "float32", "false"]
    assert len(rows) == 11
    totals = list(csv.DictReader(io.StringIO(render(report(view="totals"), "csv"))))
    assert totals[0]["total"] == str(MINI_TOTAL) and totals[0]["trainable"] == "50"


def test_markdown_and_table_show_the_numbers():
    md = render(report(depth=1), "markdown")
    assert "| `features` | 452 | 0 | 452 | ██████████ 100% |" in md
    table = render(report(), "table")
    assert "features.10.weight" in table and "freeze features.*" in table and f"{MINI_TOTAL:,}" in table


def test_expectations_in_report():
    r = report(expect=Expectations(trainable=50, frozen=1, max_trainable_pct=5.0))
    assert [(e.name, e.ok) for e in r.expectations] == [("trainable", True), ("frozen", False),
                                                         ("max_trainable_pct", False)]
    assert r.failed_expectations[0].describe() == f"expected frozen 1 but the plan gives {MINI_TOTAL - 50:,}"
