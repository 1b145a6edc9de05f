import csv
import io
import json

from freezekit.core.expectations import Expectations
from freezekit.core.plan import make_plan
from freezekit.core.rules import Rule
from freezekit.pipeline.audit import build_report
from freezekit.pipeline.settings import Settings
from freezekit.render import RENDERERS, render, renderer
from freezekit.render.view import Format, Only, View
from freezekit.sources.registry import parse_source
from freezekit.sources.spec import Loaded

from ..records_for_tests import MINI_TOTAL, mini_vgg


def report(command="freeze", rules=(Rule("freeze", "features.*"),), expect=Expectations()):
    inv = mini_vgg()
    options = Settings(source=parse_source("mini_vgg"), rules=tuple(rules), expect=expect)
    plan = make_plan(inv, options.rules)
    return build_report(command, Loaded(inv), plan, options)


def view(fmt: str, parameters=True, depth=None, only=None) -> View:
    return View(Format(fmt), depth, None if only is None else Only(only), parameters)


def test_every_format_has_a_renderer_that_names_the_parameters_it_shows():
    assert set(Format) == set(RENDERERS)
    assert all(callable(renderer(fmt)) for fmt in Format)
    for fmt in Format:
        per_parameter = render(report(), view(fmt, parameters=True))
        totals_only = render(report(), view(fmt, parameters=False))
        if fmt is not Format.LINE:  # PEFT's one line: totals only, whatever the view
            assert "features.10.weight" in per_parameter
        assert "features.10.weight" not in totals_only
        assert str(MINI_TOTAL) in totals_only.replace(",", "")


def test_json_schema_pinned():
    data = json.loads(render(report(), view("json")))
    assert data["schema"] == "freezekit.report" and data["schema_version"] == 1
    assert list(data) == [
        "schema",
        "schema_version",
        "command",
        "model",
        "default",
        "rules",
        "totals",
        "buffers",
        "parameters",
        "batchnorm",
        "expectations",
        "warnings",
    ]
    assert data["totals"]["total"] == MINI_TOTAL and data["totals"]["trainable"] == 50
    assert data["totals"]["frozen"] == MINI_TOTAL - 50
    assert data["rules"] == [{"action": "freeze", "pattern": "features.*", "origin": "", "selected": 8}]
    assert data["parameters"][0] == {
        "name": "features.0.weight",
        "aliases": [],
        "shape": [4, 4, 3, 3],
        "numel": 144,
        "dtype": "float32",
        "trainable": False,
        "module": "features.0",
        "module_type": "Conv2d",
        "rule": "freeze features.*",
    }
    assert data["buffers"] == {"tensors": 3, "numel": 9}
    assert data["batchnorm"] == {
        "policy": "train",
        "layers": [
            {
                "name": "features.3",
                "type": "BatchNorm2d",
                "affine_trainable": False,
                "stats_update": True,
                "note": "frozen, yet updates in train()",
            }
        ],
    }
    assert "parameters" not in json.loads(render(report(), view("json", parameters=False)))


def test_only_and_depth_filter_rows():
    data = json.loads(render(report(), view("json", only="trainable")))
    assert [p["name"] for p in data["parameters"]] == ["classifier.0.weight", "classifier.0.bias"]
    data = json.loads(render(report(), view("json", depth=1, only="frozen")))
    assert data["modules"] == [{"name": "features", "total": 452, "trainable": 0, "frozen": 452}]


def test_csv_rows():
    rows = list(csv.reader(io.StringIO(render(report(), view("csv")))))
    assert rows[0][:5] == ["name", "shape", "numel", "dtype", "trainable"]
    assert rows[1][:5] == ["features.0.weight", "4x4x3x3", "144", "float32", "false"]
    assert len(rows) == 11
    totals = list(csv.DictReader(io.StringIO(render(report(), view("csv", parameters=False)))))
    assert totals[0]["total"] == str(MINI_TOTAL) and totals[0]["trainable"] == "50"


def test_expectations_in_report():
    r = report(expect=Expectations(trainable=50, frozen=1, max_trainable_pct=5.0))
    assert [(e.name, e.ok) for e in r.expectations] == [
        ("trainable", True),
        ("frozen", False),
        ("max_trainable_pct", False),
    ]
    assert r.failed_expectations[0].describe() == f"expected frozen 1 but the plan gives {MINI_TOTAL - 50:,}"
