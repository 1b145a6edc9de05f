"""Output where freezekit really runs: pipes with no COLUMNS, narrow terminals, `| head`, notebooks."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torchvision

import freezekit
from freezekit.errors import ExitCode, NoMatchError, UsageError
from freezekit.render import render
from freezekit.render.text_table import Column, plain, table_lines
from freezekit.render.verify_render import verify_markdown
from freezekit.render.view import Format, View
from freezekit.verify.result import Check, StepStats, VerifyResult

ROOT = Path(__file__).resolve().parent.parent.parent


def resnet50_names() -> list[str]:
    return [n for n, _ in torchvision.models.resnet50(weights=None).to("meta").named_parameters()]


def _child_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # no terminal, no COLUMNS
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def _first_column(out: str) -> list[str]:
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("────"))) + 1
    end = lines.index("", start)
    return [line.split("  ")[0] for line in lines[start:end]]


def test_no_tty_no_columns_prints_every_name_in_full(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "freezekit", "freeze", "resnet50", "-p", "through:layer3"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_child_env(),
    )
    assert done.returncode == 0, done.stderr
    assert _first_column(done.stdout) == resnet50_names()
    assert "…" not in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) > 80  # sized to content, not to 80 columns


def test_narrow_terminal_drops_other_columns_never_the_name(cli):
    code, out, _ = cli("freeze", "resnet50", "-p", "through:layer3", env={"COLUMNS": "45"})
    assert code == 0
    assert _first_column(out) == resnet50_names()
    header = out.splitlines()[1]
    assert header.split() == ["Parameter", "Trainable"]  # Rule, Shape, Params gave way, one line per row


def test_export_and_report_print_keep_names(cli, tmp_path):
    code, _, err = cli("freeze", "resnet50", "--export", tmp_path / "r.html", env={"COLUMNS": "40"})
    assert code == 0, err
    page = (tmp_path / "r.html").read_text()
    assert all(name in page for name in resnet50_names()) and "…" not in page
    model = torchvision.models.resnet50()
    buf = io.StringIO()
    freezekit.freeze(model, rules=["through:layer3"]).print(file=buf)
    assert _first_column(buf.getvalue()) == resnet50_names()


def test_layout_shrinks_the_rule_then_drops_columns():
    columns = (Column("Name", keep=True), Column("N", "right", drop=2), Column("Rule", shrink=True, drop=1))
    rows = [("a.very.long.parameter.name", "1,000", "freeze features.*")]
    assert [plain(x) for x in table_lines(columns, rows, None)][
        2
    ] == "a.very.long.parameter.name  1,000  freeze features.*"
    assert [plain(x) for x in table_lines(columns, rows, 40)][2] == "a.very.long.parameter.name  1,000  free…"
    assert [plain(x) for x in table_lines(columns, rows, 30)][2] == "a.very.long.parameter.name"
    assert [plain(x) for x in table_lines(columns, rows, 10)][2] == "a.very.long.parameter.name"


def test_closed_pipe_is_a_quiet_exit_0(tmp_path):
    script = f"set -o pipefail; {sys.executable} -m freezekit freeze resnet152 -p 'through:layer3' --no-cache | head -5"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path, env=_child_env())
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 5
    assert "error" not in done.stderr and "Traceback" not in done.stderr and "Exception" not in done.stderr


def test_closed_pipe_keeps_a_failed_expectation(tmp_path):
    script = f"{sys.executable} -m freezekit freeze resnet18 --expect-total 5 | head -1; exit ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path, env=_child_env())
    assert done.returncode == ExitCode.EXPECTATION
    assert done.stderr.splitlines()[-1] == "freezekit: error: expected total 5 but the plan gives 11,689,512"


def test_depth_lists_modules_only(cli):
    code, out, _ = cli("freeze", "resnet50", "--depth", "2", "-f", "json")
    assert code == 0
    names = [m["name"] for m in json.loads(out)["modules"]]
    assert names == [
        "conv1",
        "bn1",
        *[f"layer{i}.{j}" for i, n in ((1, 3), (2, 4), (3, 6), (4, 3)) for j in range(n)],
        "fc",
    ]
    assert json.loads(out)["modules"][0] == {"name": "conv1", "total": 9408, "trainable": 9408, "frozen": 0}


def test_count_only_without_depth_is_refused(cli):
    code, out, err = cli("count", "resnet18", "--only", "frozen")
    assert code == ExitCode.USAGE and out == ""
    assert "--only filters rows" in err and "--depth" in err
    code, out, _ = cli("count", "resnet18", "-p", "layer1", "--only", "frozen", "--depth", "1", "-f", "csv")
    assert code == 0 and out.splitlines() == ["module,total,trainable,frozen", "layer1,147968,0,147968"]


def test_line_format_is_peft_shaped(cli):
    code, out, _ = cli("count", "vgg16", "-p", "features.*", "--format", "line")
    assert code == 0
    assert out == "trainable params: 123,642,856 || all params: 138,357,544 || trainable%: 89.3647\n"


def test_line_format_matches_peft_itself(capsys):
    import torch
    from peft import LoraConfig, get_peft_model

    base = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    model = get_peft_model(base, LoraConfig(r=2, target_modules=["0", "2"]))
    model.print_trainable_parameters()
    peft_line = capsys.readouterr().out
    report = freezekit.freeze(model, default="keep")
    assert (
        render(report.report, View(Format.LINE))
        == peft_line
        == ("trainable params: 176 || all params: 984 || trainable%: 17.8862\n")
    )  # 96 + 80 LoRA, 808 base


def test_keras_footer_and_bounds(cli):
    code, out, err = cli(
        "count", "resnet50", "-p", "through:layer3", "--max-trainable-pct", "95", "--expect-total", "25557032"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert "Total params: 25,557,032 (97.5 MiB)" in lines
    assert "Trainable params: 17,013,736 (66.57%, 64.9 MiB)" in lines
    assert "Non-trainable params: 8,543,296 (33.43%, 32.6 MiB)" in lines
    assert [line.split() for line in lines[lines.index("Expectations") + 3 :]] == [
        ["total", "==", "25,557,032", "25,557,032", "ok"],
        ["max_trainable_pct", "<=", "95%", "66.57%", "ok"],
    ]


def test_batchnorm_summary_is_compact_by_default(cli):
    code, out, _ = cli("freeze", "resnet152", "-p", "through:layer3")
    section = out.split("BatchNorm layers (policy: train): 155 layers")[1].split("\n\n")[0].splitlines()
    assert [line.split("  ")[0] for line in section[3:]] == ["BatchNorm2d", "BatchNorm2d"]
    assert "frozen, yet updates in train()  bn1, layer1.0.bn1, layer1.0.bn2 and 142 more" in section[3]
    code, out, _ = cli("freeze", "resnet152", "-p", "through:layer3", "--batchnorm-details")
    section = out.split("BatchNorm layers (policy: train)")[1].split("\n\n")[0].splitlines()
    assert len(section) == 3 + 155


def test_verify_strict_result_column():
    stats = StepStats(1.0, 2.0, "rss", 1, 2)
    result = VerifyResult(
        "m", "cpu", "float32", 2, "x", (Check("unused", False, "1 unused", ("a",), "warning"),), stats
    )
    assert "| unused | warn | 1 unused |" in verify_markdown(result, warnings_fail=False)
    assert "| unused | FAIL | 1 unused |" in verify_markdown(result, warnings_fail=True)


def test_drift_is_printed_once(cli, tmp_path):
    manifest = tmp_path / "m.json"
    code, _, err = cli("freeze", "resnet18", "-p", "layer1", "--manifest", manifest, "-f", "json")
    assert code == 0, err
    code, out, err = cli("check", manifest, "resnet34")
    assert code == ExitCode.DRIFT
    assert out.splitlines()[0].startswith("parameters added (")
    assert (
        err
        == "freezekit: error: resnet34 no longer matches "
        + str(manifest)
        + f": {len(out.splitlines())} difference(s), listed on stdout\n"
    )


@pytest.mark.parametrize("command", ["", "freeze", "count", "models", "verify", "check", "cache", "cache clear"])
def test_help_reads_like_a_cli(cli, command):
    code, out, _ = cli(*command.split(), "--help")
    assert code == 0
    for python_ism in ("<str>", "<bool>", "<int", "<list", "<float", "[[", "{manifest}", "x>=0", "range]"):
        assert python_ism not in out, (command, python_ism)


def test_check_offers_only_what_it_prints(cli):
    _, out, _ = cli("check", "--help")
    assert "table|json" in out and "csv" not in out and "markdown" not in out
    code, _, err = cli("check", "m.json", "-f", "csv")
    assert code == ExitCode.USAGE
    assert err.startswith("freezekit: error: Invalid value for '--format' / '-f': 'csv' is not one of table, json (")


def test_wrong_choice_has_no_value_error_prefix(cli):
    code, _, err = cli("count", "vgg16", "-f", "yaml")
    assert code == ExitCode.USAGE
    assert "'yaml' is not one of table, json, csv, markdown, line (see" in err and "Value error" not in err


def test_model_names_complete_in_the_shell(tmp_path):
    env = _child_env(
        _FREEZEKIT_COMPLETE="complete_bash",
        COMP_WORDS="freezekit count resnet1",
        COMP_CWORD="2",
        FREEZEKIT_CACHE_DIR=str(tmp_path),
    )
    code = "import sys; sys.argv = ['freezekit']; from freezekit.cli.app import app; app(prog_name='freezekit')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.split() == ["resnet101", "resnet152", "resnet18"], done.stderr


def test_repr_is_one_short_line_and_notebooks_get_html():
    report = freezekit.freeze(torchvision.models.resnet18(), rules=["layer1"], source="resnet18")
    assert repr(report) == (
        "<FreezeReport resnet18: 11,541,544 of 11,689,512 parameters trainable (98.73%), 12 of 62 tensors frozen>"
    )
    page = report._repr_html_()
    assert page.startswith("<pre") and "layer1.0.conv1.weight" in page and "11,689,512" in page
    buf = io.StringIO()
    report.print(only="frozen", depth=1, file=buf)
    assert _first_column(buf.getvalue()) == ["layer1"]
    with pytest.raises(UsageError, match=r"only='Frozen': choose one of 'frozen', 'trainable'"):
        report.print(only="Frozen")


def test_hints_where_people_go_wrong(cli, tmp_path, monkeypatch):
    code, _, err = cli("count", "resnet50", "-p", "re:downsample")
    assert code == ExitCode.NO_MATCH
    assert "re: must match the whole name (re.fullmatch)" in err and "did you mean 're:.*downsample.*'?" in err
    monkeypatch.chdir(tmp_path)
    (tmp_path / "features.txt").write_text("")
    code, _, err = cli("count", "vgg16", "-p", "features.txt")
    assert "'features.txt' is a file in this folder: the shell may have expanded an unquoted glob" in err
    code, _, err = cli("count", "vgg16", "-p", "features.9")
    assert "nearest names: features.19, features.7, features.5 " in err  # features.9 is a ReLU: no parameters
    with pytest.raises(NoMatchError, match=r"\(pass strict=False to make this a warning\)$"):
        freezekit.freeze(torchvision.models.resnet18(), rules=["nope"])


def test_duplicate_yaml_keys_are_config_errors(cli, tmp_path):
    (tmp_path / "c.yaml").write_text("model: vgg16\nrules:\n  - freeze: 'features.*'\nmodel: resnet18\n")
    code, out, err = cli("count", "-c", tmp_path / "c.yaml")
    assert code == ExitCode.CONFIG and out == ""
    assert err == f"freezekit: error: {tmp_path / 'c.yaml'}: duplicate key 'model' on lines 1 and 4; keep one\n"
    (tmp_path / "d.yaml").write_text("model: vgg16\nexpect:\n  total: 1\n  total: 2\n")
    code, _, err = cli("count", "-c", tmp_path / "d.yaml")
    assert code == ExitCode.CONFIG and "duplicate key 'total' on lines 3 and 4; keep one" in err
