"""A real fine-tune of a tiny CNN: freeze with a manifest, train a few CPU steps, then `check` and
`diff` the final checkpoint; a correct freeze passes and each of three classic bugs is caught."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import freezekit
from freezekit.core.manifest import fingerprint
from freezekit.errors import ExitCode as X

from .tiny_cnn import build

TINY = f"{Path(__file__).with_name('tiny_cnn.py')}:build"
FROZEN = ["0.weight", "0.bias", "1.weight", "1.bias"]  # through:1: the first conv and its BatchNorm
STATS = ["1.running_mean", "1.running_var"]


@pytest.fixture(scope="module")
def frozen_dir(tmp_path_factory):
    from typer.testing import CliRunner

    from freezekit.cli.app import app

    d = tmp_path_factory.mktemp("fine-tune")
    result = CliRunner().invoke(
        app,
        [
            "freeze",
            TINY,
            "-p",
            "through:1",
            "--batchnorm",
            "eval",
            "--save",
            str(d / "before.safetensors"),
            "--manifest",
            str(d / "m.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    return d


def _train(d: Path, bug: str | None = None) -> Path:
    model = build()
    model.load_state_dict(load_file(d / "before.safetensors"))
    if bug == "stale gradient":  # a gradient first, then frozen: weight decay moves the zeroed gradients' params
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=0.1)
        model(torch.randn(2, 3, 8, 8)).sum().backward()
        freezekit.apply_manifest(model, str(d / "m.json"))
    elif bug == "no eval policy":  # requires_grad set by hand: the BatchNorm policy is lost
        for name, p in model.named_parameters():
            p.requires_grad_(name not in FROZEN)
        optimizer = torch.optim.SGD(freezekit.trainable_parameters(model), lr=0.1)
    else:
        freezekit.apply_manifest(model, str(d / "m.json"))
        params = [p for n, p in model.named_parameters() if p.requires_grad and (bug != "head left out" or n[0] != "8")]
        optimizer = torch.optim.SGD(params, lr=0.1)
    model.train()
    torch.manual_seed(1)
    for _ in range(2):
        optimizer.zero_grad(set_to_none=False)
        model(torch.randn(4, 3, 8, 8)).square().mean().backward()
        optimizer.step()
    path = d / f"after-{(bug or 'ok').replace(' ', '-')}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    return path


def _max_diff(d: Path, after: Path, name: str) -> str:
    return f"{(load_file(after)[name] - load_file(d / 'before.safetensors')[name]).abs().max().item():.6g}"


def test_a_correct_freeze_passes_check_and_diff(cli, frozen_dir):
    after = _train(frozen_dir)
    code, out, err = cli("check", frozen_dir / "m.json", after)
    assert (code, err) == (0, "")
    assert out.startswith("manifest matches: 4 frozen tensor(s) by name, inventory sha256:")
    assert out.endswith("; 4 frozen tensor(s) compared by value\n")
    code, out, err = cli("diff", frozen_dir / "before.safetensors", after, "--manifest", frozen_dir / "m.json")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "15 tensors: 8 changed, 7 unchanged; 171 values changed, 129 unchanged"


def test_a_stale_zero_gradient_under_weight_decay_is_caught(cli, frozen_dir):
    after = _train(frozen_dir, "stale gradient")
    code, out, err = cli("check", frozen_dir / "m.json", after)  # the manifest's saved file is the reference
    assert code == X.DRIFT
    moved = FROZEN[:3]  # 1.bias is zero: weight decay leaves it where it is
    shown = ", ".join(f"{n} (max abs diff {_max_diff(frozen_dir, after, n)})" for n in moved)
    assert (
        _max_diff(frozen_dir, after, "1.bias") == "0" and out.splitlines()[0] == f"frozen values changed (3): {shown}"
    )
    code, _, err = cli("diff", frozen_dir / "before.safetensors", after, "--manifest", frozen_dir / "m.json")
    assert (code, err) == (X.DRIFT, "freezekit: error: 3 frozen tensor(s) changed: 0.bias, 0.weight, 1.weight\n")


def test_train_mode_without_the_eval_policy_moves_the_frozen_statistics(cli, frozen_dir):
    after = _train(frozen_dir, "no eval policy")
    code, out, _ = cli("check", frozen_dir / "m.json", after)
    assert (code, out.splitlines()[0]) == (X.DRIFT, f"frozen norm statistics moved (2): {', '.join(STATS)}")


def test_a_head_left_out_of_the_optimizer_is_a_warning_and_under_strict_exit_11(cli, frozen_dir):
    after = _train(frozen_dir, "head left out")
    assert cli("check", frozen_dir / "m.json", after)[0] == 0
    args = ("diff", frozen_dir / "before.safetensors", after, "--manifest", frozen_dir / "m.json")
    code, _, err = cli(*args)
    assert (code, err) == (
        0,
        "freezekit: warning: 2 trainable tensor(s) did not change at all "
        "(left out of the optimizer?): 8.bias, 8.weight\n",
    )
    assert cli(*args, "--strict")[0] == X.DRIFT


def test_apply_manifest_keeps_the_eval_policy_after_model_train(frozen_dir):
    model = build()
    freezekit.apply_manifest(model, str(frozen_dir / "m.json"))
    before = {n: model.state_dict()[n].clone() for n in STATS}
    model.train()
    model(torch.randn(4, 3, 8, 8))
    assert all(torch.equal(model.state_dict()[n], before[n]) for n in STATS)
    assert not torch.equal(model.state_dict()["4.running_mean"], torch.zeros(4))  # a trainable layer's did move


def test_a_version_1_manifest_still_checks_by_names_with_a_note(cli, frozen_dir, tmp_path):
    doc = json.loads((frozen_dir / "m.json").read_text())
    for key in ("batchnorm", "values", "saved"):
        del doc[key]
    doc |= {"schema_version": 1, "fingerprint": fingerprint(doc["parameters"], version=1)}
    (tmp_path / "v1.json").write_text(json.dumps(doc))
    code, out, _ = cli("check", tmp_path / "v1.json", frozen_dir / "before.safetensors")
    assert code == 0 and out.endswith(
        "; values were not compared: a version 1 manifest: values and the BatchNorm policy were not recorded\n"
    )


def test_the_embedded_manifest_is_used_without_a_manifest(cli, frozen_dir):
    code, out, _ = cli("check", frozen_dir / "before.safetensors")
    assert code == 0 and out.endswith("; 4 frozen tensor(s) compared by value\n")


def test_a_digest_of_a_name_outside_the_table_is_a_damaged_manifest(cli, frozen_dir, tmp_path):
    doc = json.loads((frozen_dir / "m.json").read_text())
    doc["values"]["tensors"]["8.weight"] = doc["values"]["tensors"]["0.weight"]
    (tmp_path / "m.json").write_text(json.dumps(doc))
    code, out, err = cli("check", tmp_path / "m.json", frozen_dir / "before.safetensors")
    assert (code, out) == (X.CONFIG, "")
    assert err.endswith("'values.tensors' names '8.weight', not a frozen parameter of its table\n")


def test_values_none_and_the_meta_device_say_that_no_values_were_recorded(cli, frozen_dir, tmp_path):
    assert cli("freeze", TINY, "-p", "through:1", "--manifest", tmp_path / "meta.json")[0] == 0
    assert (
        cli(
            "freeze",
            TINY,
            "-p",
            "through:1",
            "--manifest",
            tmp_path / "none.json",
            "--values",
            "none",
            "--save",
            tmp_path / "w.safetensors",
        )[0]
        == 0
    )
    notes = [json.loads((tmp_path / f).read_text())["values"] for f in ("meta.json", "none.json")]
    assert [(v["recorded"], v["note"]) for v in notes] == [
        (False, "built on the meta device: no values were recorded (pass --weights or --weights-file)"),
        (False, "--values none: no values were recorded"),
    ]
    code, out, _ = cli("check", tmp_path / "meta.json", frozen_dir / "before.safetensors")
    assert code == 0 and out.endswith(
        "; values were not compared: built on the meta device: no values were "
        "recorded (pass --weights or --weights-file)\n"
    )


def test_a_weights_file_manifest_checks_against_a_checkpoint_and_its_model_by_value(cli, frozen_dir):
    d = frozen_dir
    assert (
        cli("freeze", TINY, "-p", "through:1", "--weights-file", d / "before.safetensors", "--manifest", d / "wf.json")[
            0
        ]
        == 0
    )
    code, out, err = cli("check", d / "wf.json", d / "before.safetensors")
    assert (code, err) == (0, "") and out.endswith("; 4 frozen tensor(s) compared by value\n")
    code, out, err = cli("check", d / "wf.json", "--trust-code")  # the model rebuilt with its weights file
    assert (code, err) == (0, "") and out.endswith("; 4 frozen tensor(s) compared by value\n")


def test_check_on_the_model_keeps_the_policy_and_says_values_were_not_compared(cli, frozen_dir):
    code, out, err = cli("check", frozen_dir / "m.json", "--trust-code")  # built without weights: meta
    assert (code, err) == (0, "")  # no warning that frozen BatchNorm layers will update: the policy is eval
    assert out.endswith("; values were not compared: the model was built without weights (the manifest names none)\n")
