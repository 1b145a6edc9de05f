import json

import pytest

from freezekit.errors import ExitCode


def test_vgg16_features_json(cli):
    code, out, err = cli("freeze", "vgg16", "--pattern", "features.*", "--format", "json")
    assert code == 0, err
    totals = json.loads(out)["totals"]
    assert (totals["total"], totals["trainable"], totals["frozen"]) == (138357544, 123642856, 14714688)
    assert err == ""


def test_prefix_does_not_leak(cli):
    code, out, _ = cli("freeze", "vgg16", "-p", "features.0", "-f", "json")
    assert code == 0
    data = json.loads(out)
    assert data["totals"]["frozen"] == 1792
    assert [p["name"] for p in data["parameters"] if not p["trainable"]] == ["features.0.weight", "features.0.bias"]


def test_no_match_is_an_error_without_traceback(cli):
    code, out, err = cli("freeze", "vgg16", "-p", "features.1")
    assert code == ExitCode.NO_MATCH == 8
    assert out == ""
    assert err.startswith("freezekit: error: rule 'freeze features.1' (--pattern) selects no parameter")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_allow_unmatched_warns_on_stderr(cli):
    code, out, err = cli("count", "vgg16", "-p", "features.1", "--allow-unmatched", "-f", "json")
    assert code == 0
    assert json.loads(out)["totals"]["frozen"] == 0
    assert err.startswith("freezekit: warning: rule 'freeze features.1'")


def test_command_line_order_is_kept(cli):
    code, out, _ = cli(
        "freeze", "vgg16", "-p", "features.*", "-u", "features.28", "-p", "features.28.bias", "-f", "json"
    )
    params = {p["name"]: p for p in json.loads(out)["parameters"]}
    assert params["features.28.weight"]["trainable"] and params["features.28.weight"]["rule"] == "unfreeze features.28"
    assert not params["features.28.bias"]["trainable"]


def test_count_table_and_depth(cli):
    code, out, _ = cli("count", "vgg16", "-p", "features.*", "--depth", "1")
    assert code == 0
    rows = [line.split("  ") for line in out.splitlines() if line.startswith(("features ", "classifier "))]
    assert [[cell.strip() for cell in row if cell.strip()] for row in rows] == [
        ["features", "14,714,688", "0", "14,714,688", "██████████ 100%"],
        ["classifier", "123,642,856", "123,642,856", "0", "░░░░░░░░░░ 0%"],
    ]
    assert "138,357,544" in out and "features.0.weight" not in out


def test_expectations_fail_the_pipeline(cli):
    code, _, err = cli(
        "count", "vgg16", "-p", "features.*", "--expect-trainable", "123642856", "--max-trainable-pct", "90"
    )
    assert code == 0, err
    code, out, err = cli("count", "vgg16", "-p", "features.*", "--expect-trainable", "5", "-f", "json")
    assert code == ExitCode.EXPECTATION == 9
    assert json.loads(out)["expectations"] == [{"name": "trainable", "expected": 5, "actual": 123642856, "ok": False}]
    assert err.strip() == "freezekit: error: expected trainable 5 but the plan gives 123,642,856"


@pytest.mark.parametrize(
    "args,code,fragment",
    [
        (["count", "vgg61"], ExitCode.MODEL, "unknown model 'vgg61'; did you mean"),
        (["count", "vgg16", "--depth", "-1"], ExitCode.USAGE, "'--depth'"),
        (["count", "vgg16", "--expect-trainable", "many"], ExitCode.USAGE, "'--expect-trainable'"),
        (["count", "vgg16", "-p", "re:("], ExitCode.RULE, "invalid regular expression"),
        (["count", "vgg16", "-p", ""], ExitCode.RULE, "the pattern is empty"),
        (["count", "vgg16", "-p", "through:features.99"], ExitCode.RULE, "no module named 'features.99'"),
        (["count", "vgg16", "-p", "type:Conv3d"], ExitCode.NO_MATCH, "selects no parameter"),
        (["count", "vgg16", "--export", "x.pdf"], ExitCode.USAGE, "must end in .html or .svg"),
        (["count", "vgg16", "--export", "x.svg", "-f", "json"], ExitCode.USAGE, "cannot be combined"),
        (["count", "-c", "missing.yaml"], ExitCode.CONFIG, "no such"),
        (
            ["count", "vit_b_16", "--arg", "image_size=223"],
            ExitCode.MODEL,
            "model 'vit_b_16' could not be built with {'image_size': 223}: AssertionError",
        ),
    ],
)
def test_errors_are_one_line_with_their_code(cli, tmp_path, monkeypatch, args, code, fragment):
    monkeypatch.chdir(tmp_path)
    got, out, err = cli(*args)
    assert got == code, err
    assert fragment in err and err.startswith("freezekit: error: ")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert out == ""
    assert list(tmp_path.iterdir()) == []


def test_count_reads_freezekit_yaml(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("count")
    assert code == ExitCode.USAGE and "no freezekit.yaml in this folder" in err
    (tmp_path / "freezekit.yaml").write_text(
        "model: vgg16\nrules:\n  - freeze: 'features.*'\nexpect:\n  trainable: 123642856\n"
    )
    code, out, err = cli("count", "-f", "json")
    assert code == 0, err
    assert json.loads(out)["totals"]["trainable"] == 123642856


def test_export_html_and_svg(cli, tmp_path):
    code, _, err = cli("count", "vgg16", "-p", "features.*", "--export", tmp_path / "r.html")
    assert code == 0, err
    assert "138,357,544" in (tmp_path / "r.html").read_text()
    code, _, _ = cli("freeze", "resnet18", "--depth", "1", "--export", tmp_path / "r.svg")
    assert code == 0 and (tmp_path / "r.svg").read_text().startswith("<svg")


def test_models_lists_and_filters(cli):
    code, out, _ = cli("models")
    assert code == 0 and len(out.split()) == 121
    code, out, _ = cli("models", "vgg1")
    assert out.split() == [
        "ssd300_vgg16",
        "vgg11",
        "vgg11_bn",
        "vgg13",
        "vgg13_bn",
        "vgg16",
        "vgg16_bn",
        "vgg19",
        "vgg19_bn",
    ]


def test_every_listed_model_counts_offline(cli):
    _, out, _ = cli("models")
    failures = {}
    for name in out.split():
        code, report, err = cli("count", name, "-f", "json", "--no-cache")
        if code != 0 or json.loads(report)["totals"]["total"] <= 0:
            failures[name] = err
    assert failures == {}


@pytest.mark.parametrize(
    "recipe,trainable",
    [
        ("vgg16-features.yaml", 123642856),
        ("vgg16-features-but-last-conv.yaml", 126002664),
        ("resnet50-linear-probe.yaml", 2049000),
        ("vit_b_16-head-only.yaml", 769000),
        ("resnet50-finetune-last-block.yaml", 17013736),
    ],
)
def test_shipped_recipes(cli, recipe, trainable):
    from pathlib import Path

    path = Path(__file__).parents[2] / "configs" / recipe
    code, out, err = cli("count", "-c", path, "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["totals"]["trainable"] == trainable
    assert all(e["ok"] for e in data["expectations"]) and data["expectations"]


def test_count_own_model_with_a_tied_weight(cli):
    from pathlib import Path

    factory = f"{Path(__file__).parents[1] / 'models_for_tests.py'}:build_tied"
    code, out, err = cli("count", factory, "-f", "json", "--no-cache")
    assert code == 0, err
    data = json.loads(out)
    assert data["totals"]["total"] == 8 * 4 + (4 * 4 + 4) + (4 + 4) == 60  # embed/head tied: counted once
    assert data["buffers"] == {"tensors": 3, "numel": 9}
    code, out, _ = cli("freeze", factory, "--arg", "vocab=16", "-p", "head", "-f", "json", "--no-cache")
    params = json.loads(out)["parameters"]
    assert params[0]["name"] == "embed.weight" and params[0]["aliases"] == ["head.weight"]
    assert params[0]["numel"] == 64 and params[0]["trainable"] is False


def test_console_script_exit_codes_and_flushed_output(tmp_path):
    """main() skips interpreter teardown once torch is loaded: exit codes and output must survive."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "freezekit", "count", "vgg16", "--no-cache", "-f", "json", "--expect-trainable", "5"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == ExitCode.EXPECTATION
    assert json.loads(done.stdout)["totals"]["total"] == 138357544  # complete, flushed
    assert done.stderr == "freezekit: error: expected trainable 5 but the plan gives 138,357,544\n"


def test_export_is_not_written_when_an_expectation_fails(cli, tmp_path):
    code, _, _ = cli("count", "resnet18", "--expect-total", "5", "--export", tmp_path / "r.svg")
    assert code == ExitCode.EXPECTATION and not (tmp_path / "r.svg").exists()


def test_arg_values_that_are_not_json_scalars_stay_text(cli):
    from pathlib import Path

    factory = f"{Path(__file__).parents[1] / 'models_for_tests.py'}:build_tied"
    code, _, err = cli("count", factory, "--arg", "vocab=2001-01-01", "-f", "json", "--no-cache")
    assert code == ExitCode.MODEL and "TypeError" in err  # the builder got the text, not a date


def test_the_cli_and_the_api_say_unmet_expectations_the_same_way(cli):
    """One message (core/expectations.expectation_error) for exit 9 and for the API's ExpectationError."""
    from pathlib import Path

    import freezekit
    from freezekit.errors import ExpectationError
    from tests.models_for_tests import build_tied

    factory = f"{Path(__file__).parents[1] / 'models_for_tests.py'}:build_tied"
    code, _, err = cli("count", factory, "-p", "head", "--expect-total", "1", "--no-cache")
    assert code == ExitCode.EXPECTATION
    with pytest.raises(ExpectationError) as caught:
        freezekit.freeze(build_tied(), rules=["head"], expect={"total": 1})
    assert err == f"freezekit: error: {caught.value}\n"
    assert str(caught.value) == "expected total 1 but the plan gives 60"  # 8 x 4 embedding (tied to head) + 20 + 8
