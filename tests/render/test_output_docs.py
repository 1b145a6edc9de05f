"""Every key of every machine-readable output is documented in docs/OUTPUT.md (and nothing is
emitted that the page does not show). Outputs are made from hand-built records: no torch."""

import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path

from freezekit.core.expectations import Expectations
from freezekit.core.manifest import build_manifest, compare, load_manifest
from freezekit.core.manifest_values import RecordedValues
from freezekit.core.plan import make_plan
from freezekit.core.rules import Rule
from freezekit.pipeline.audit import build_report
from freezekit.pipeline.settings import Settings
from freezekit.render import render
from freezekit.render.check_render import check_dict
from freezekit.render.csv_render import MODULE_COLUMNS, PARAM_COLUMNS
from freezekit.render.verify_render import verify_dict
from freezekit.render.view import Format, View
from freezekit.sources.registry import parse_source
from freezekit.sources.spec import Loaded
from freezekit.verify.result import Check, StepStats, VerifyResult

from ..records_for_tests import mini_vgg

DOC = (Path(__file__).resolve().parents[2] / "docs" / "OUTPUT.md").read_text()


def documented() -> dict[str, dict]:
    """The jsonc examples of docs/OUTPUT.md, by schema name."""
    out = {}
    for block in re.findall(r"```jsonc\n(.*?)```", DOC, re.S):
        data = json.loads(re.sub(r"\s+//.*$", "", block, flags=re.M))
        out[data["schema"]] = data
    return out


def key_paths(value, prefix="", doc=None) -> set[str]:
    """Every key path in value ('totals.trainable', 'parameters[].name'); a map documented with one
    «example» key stands for any key."""
    paths = set()
    if isinstance(value, dict):
        dynamic = isinstance(doc, dict) and len(doc) == 1 and next(iter(doc)).startswith("«")
        for key, item in value.items():
            name = next(iter(doc)) if dynamic else key
            path = f"{prefix}.{name}" if prefix else name
            paths.add(path)
            sub = doc.get(name) if isinstance(doc, dict) else None
            paths |= key_paths(item, path, sub)
    elif isinstance(value, list):
        sub = doc[0] if isinstance(doc, list) and doc else None
        for item in value:
            paths |= key_paths(item, prefix + "[]", sub)
    return paths


def _report(command="freeze"):
    inv = mini_vgg()
    settings = Settings(
        source=parse_source("mini.safetensors"),
        rules=(Rule("freeze", "features.*", "--pattern"),),
        expect=Expectations(trainable=50, max_trainable_pct=50),
    )
    plan = make_plan(inv, settings.rules)
    return build_report(command, Loaded(inv), plan, settings), inv, plan


def _view(fmt: str, command: str = "freeze", depth: int | None = 1) -> View:
    return View(Format(fmt), depth, parameters=command == "freeze")


def test_report_keys_are_documented():
    doc = documented()["freezekit.report"]
    report = _report()[0]
    emitted = json.loads(render(replace(report, model=replace(report.model, args={"depth": 4})), _view("json")))
    assert key_paths(emitted, doc=doc) == key_paths(doc, doc=doc)
    emitted = json.loads(render(_report("count")[0], _view("json", "count", None)))
    assert key_paths(emitted, doc=doc) <= key_paths(doc, doc=doc)


def test_manifest_and_check_keys_are_documented(tmp_path):
    report, inv, plan = _report()
    values = RecordedValues(
        True, "", {"features.0.weight": "sha256:" + "0" * 64}, {"features.0.running_mean": "sha256:" + "1" * 64}
    )
    manifest = build_manifest(replace(report.model, args={"depth": 4}), plan, inv, values=values, saved="w.safetensors")
    doc = documented()["freezekit.manifest"]
    assert key_paths(manifest, doc=doc) == key_paths(doc, doc=doc)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest))
    drift = compare(load_manifest(str(path)), make_plan(inv, ()), inv)
    emitted = check_dict(str(path), drift, report.model.source)
    doc = documented()["freezekit.check"]
    assert key_paths(emitted, doc=doc) == key_paths(doc, doc=doc)
    assert emitted["ok"] is False and emitted["newly_trainable"][0] == "features.0.weight"


def test_verify_keys_are_documented():
    run = StepStats(10.0, 20.0, "cpu rss", 5, 10)
    result = VerifyResult(
        "m", "cpu", "float32", 2, "2x3x8x8 images", (Check("frozen parameters get no gradient", True, "ok"),), run, run
    )
    doc = documented()["freezekit.verify"]
    assert key_paths(verify_dict(result, False), doc=doc) == key_paths(doc, doc=doc)


def test_csv_columns_and_line_are_documented():
    for columns in (PARAM_COLUMNS, MODULE_COLUMNS):
        assert f"`{','.join(columns)}`" in DOC
    header = next(csv.reader(io.StringIO(render(_report("count")[0], _view("csv", "count", None)))))
    assert f"`{','.join(header)}`" in DOC
    line = render(_report("count")[0], _view("line", "count", None))
    assert re.fullmatch(r"trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%: \d+\.\d{4}\n", line)
    assert line == "trainable params: 50 || all params: 502 || trainable%: 9.9602\n"


def test_json_rounds_percentages_to_6_decimals():
    data = json.loads(render(_report()[0], _view("json")))
    assert data["totals"]["trainable_pct"] == 9.960159
    assert data["expectations"][1] == {"name": "max_trainable_pct", "expected": 50.0, "actual": 9.960159, "ok": True}


def test_diff_keys_are_documented(tmp_path):
    from freezekit.compare.diff import by_module, diff_files
    from freezekit.compare.tensor_files import open_checkpoint
    from freezekit.render.diff_render import diff_dict

    header = b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    for name, value in (("a", b"\x00\x00\x80\x3f"), ("b", b"\x00\x00\x00\x40")):
        (tmp_path / f"{name}.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + value)
    result = diff_files(*(open_checkpoint(str(tmp_path / f"{n}.safetensors")) for n in "ab"), lambda name: True)
    emitted = diff_dict(by_module(result, 0))
    doc = documented()["freezekit.diff"]
    assert key_paths(emitted, doc=doc) == key_paths(doc, doc=doc)
    assert emitted["tensors"][0] == {
        "name": "w",
        "status": "changed",
        "frozen": True,
        "max_abs_diff": 1.0,
        "rel_change": 1.0,
        "dtype": "float32",
        "shape": "1",
    }
