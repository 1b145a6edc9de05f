import json
import runpy
from pathlib import Path

import pytest
import torch
import torchvision

import freezekit
from freezekit.errors import DriftError, ExitCode, ExpectationError, NoMatchError

ROOT = Path(__file__).parents[2]


def test_verify_resnet18_layer1_passes(cli):
    code, out, err = cli("verify", "resnet18", "-p", "layer1", "--format", "json", "--steps", "1", "--warmup", "0")
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] is True
    assert [c["name"] for c in data["checks"]] == [
        "frozen parameters have no gradient",
        "trainable parameters received a gradient",
        "frozen BatchNorm statistics update (policy train)",
    ]
    assert data["checks"][0]["detail"] == "12 of 12 frozen tensors have .grad None"
    assert data["checks"][1]["detail"] == "50 of 50 trainable tensors got a gradient"
    assert data["step"]["step_ms"] > 0
    # one resnet18 step on 2 x 3 x 224 x 224 holds tens of MiB of activations and gradients at its peak
    assert data["step"]["peak_mib"] > 8
    assert data["step"]["memory_measure"] == "peak RSS growth during the steps, warm-up included"
    assert data["step"]["trainable"] == 11689512 - 147968
    assert "will still update" not in err and "frozen BatchNorm statistics update" in err  # the train-policy warning


def test_unused_trainable_parameter_reported_and_strict_fails(cli):
    model = f"{ROOT / 'tests' / 'models_for_tests.py'}:UnusedBranch"
    code, out, err = cli("verify", model, "--input-shape", "3", "-f", "json", "--steps", "1")
    assert code == 0
    assert json.loads(out)["checks"][1]["offenders"] == ["spare.weight", "spare.bias"]
    assert "trainable but unused: spare.weight, spare.bias" in err
    code, _, err = cli("verify", model, "--input-shape", "3", "--strict", "--steps", "1")
    assert code == ExitCode.VERIFY == 10
    assert err.startswith("freezekit: error: trainable parameters received a gradient")


@pytest.mark.parametrize("policy", ["eval", "frozen"])
def test_batchnorm_policies_keep_statistics_bit_identical(cli, policy):
    code, out, err = cli(
        "verify",
        "resnet18",
        "-p",
        "through:layer2",
        "--batchnorm",
        policy,
        "-f",
        "json",
        "--steps",
        "1",
        "--warmup",
        "1",
    )
    assert code == 0, err
    check = json.loads(out)["checks"][2]
    assert check == {
        "name": f"frozen BatchNorm statistics unchanged (policy {policy})",
        "ok": True,
        "detail": "10 of 10 frozen BatchNorm layers bit-identical",
        "offenders": [],
        "severity": "error",
    }


def test_verify_compare_reports_ratios(cli):
    code, out, err = cli(
        "verify",
        "resnet18",
        "-p",
        "through:layer3",
        "--compare",
        "-f",
        "json",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--batch-size",
        "2",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["all_trainable_step"]["trainable"] == data["all_trainable_step"]["total"] == 11689512
    assert data["step"]["trainable"] == 8906728  # layer4 + fc: what the frozen run trained
    frozen, full = data["step"], data["all_trainable_step"]  # both runs measured, the ratios from them
    assert data["speedup"] == round(full["step_ms"] / frozen["step_ms"], 3)
    ratio = frozen["peak_mib"] / full["peak_mib"] if full["peak_mib"] else None
    assert data["memory_ratio"] == (round(ratio, 3) if ratio else None)
    code, out, _ = cli("verify", "resnet18", "-p", "through:layer3", "-f", "json", "--steps", "1", "--warmup", "0")
    assert json.loads(out)["all_trainable_step"] is None and json.loads(out)["speedup"] is None


def test_verify_detection_and_inputs(cli):
    code, out, err = cli(
        "verify",
        "fasterrcnn_mobilenet_v3_large_320_fpn",
        "-p",
        "backbone",
        "-f",
        "json",
        "--steps",
        "1",
        "--warmup",
        "0",
    )
    assert code == 0, err
    assert json.loads(out)["checks"][0]["ok"]
    code, _, err = cli("verify", "vgg16", "--input-shape", "3,x", "--steps", "1")
    assert code == ExitCode.USAGE and "--input-shape 3,x" in err


def test_batchnorm_eval_survives_model_train():
    model = torchvision.models.resnet18()
    freezekit.freeze(model, rules=["through:layer1"], batchnorm="eval")
    model.train()
    assert not model.layer1[0].bn1.training and not model.bn1.training
    assert model.layer2[0].bn1.training
    before = model.layer1[0].bn1.running_mean.clone()
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    assert torch.equal(model.layer1[0].bn1.running_mean, before)
    assert model.layer1[0].conv1.weight.grad is None and model.layer2[0].conv1.weight.grad is not None


def test_batchnorm_frozen_replaces_layers_and_reports(cli):
    model = torchvision.models.resnet18()
    report = freezekit.freeze(model, rules=["through:layer1"], batchnorm="frozen")
    assert type(model.layer1[0].bn1).__name__ == "FrozenBatchNorm2d"
    assert "layer1.0.bn1.weight" not in dict(model.named_parameters())
    assert [n.note for n in report.report.norms][:2] == [
        "replaced by FrozenBatchNorm: weight and bias become buffers"
    ] * 2
    code, out, err = cli("freeze", "resnet18", "-p", "layer1")
    assert "4 frozen BatchNorm layer(s) will still update their running statistics" in err
    assert "BatchNorm layers (policy: train)" in out


def test_api_freeze_count_optimizer_audit(tmp_path):
    model = torchvision.models.vgg16()
    report = freezekit.freeze(model, str(ROOT / "configs" / "vgg16-features.yaml"))
    assert report.totals.trainable == 123642856 == freezekit.count(model).trainable
    assert report.frozen[:2] == ["features.0.weight", "features.0.bias"]
    params = freezekit.trainable_parameters(model)
    assert sum(p.numel() for p in params) == 123642856
    assert freezekit.audit_optimizer(model, torch.optim.SGD(params, lr=0.1)).ok
    audit = freezekit.audit_optimizer(model, torch.optim.AdamW(model.parameters(), weight_decay=0.01))
    assert len(audit.frozen_in_optimizer) == 26 and len(audit.decayed_frozen) == 26 and audit.will_move == ()
    model.features[0].weight.grad = torch.zeros_like(model.features[0].weight)  # a stale gradient
    audit = freezekit.audit_optimizer(model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert audit.will_move == ("features.0.weight",) and audit.decayed_frozen == ()
    head_only = torch.optim.SGD(model.classifier[6].parameters(), lr=0.1)
    assert len(freezekit.audit_optimizer(model, head_only).trainable_missing) == 4


def test_api_errors_and_expectations():
    model = torchvision.models.resnet18()
    with pytest.raises(NoMatchError):
        freezekit.freeze(model, rules=["layer9"])
    with pytest.raises(ExpectationError, match="expected trainable 1"):
        freezekit.freeze(model, rules=["layer1"], expect={"trainable": 1})
    assert all(p.requires_grad for p in model.parameters())  # a failed freeze changes nothing


def test_apply_manifest_roundtrip_and_drift(tmp_path):
    model = torchvision.models.resnet18()
    report = freezekit.freeze(model, rules=["through:layer2"])
    freezekit.save_manifest(report, str(tmp_path / "m.json"))
    fresh = torchvision.models.resnet18()  # requires_grad is not stored in a state_dict: all trainable again
    totals = freezekit.apply_manifest(fresh, str(tmp_path / "m.json"))
    assert [n for n, p in fresh.named_parameters() if not p.requires_grad] == report.frozen
    assert totals.frozen == report.totals.frozen
    with pytest.raises(DriftError, match="parameters removed"):
        freezekit.apply_manifest(torchvision.models.resnet18(num_classes=10).layer1, str(tmp_path / "m.json"))


EXAMPLE_LAST_LINES = {
    "hf_trainer_finetune.py": "trainable: 3376",
    "layer_decay_gradual_unfreeze.py": "trainable: 34570",
    "lightning_finetune.py": "trainable: 323",
    "lock_and_reload.py": "re-applied: 23,508,032 frozen, 2,049,000 trainable",
    "train_loop.py": "trainable: 8398858",
}


@pytest.mark.parametrize("example", sorted(EXAMPLE_LAST_LINES))
def test_examples_run_to_their_last_line(example, capsys):
    """Each example asserts its own facts as it goes; its last line is the number it ends on."""
    runpy.run_path(str(ROOT / "examples" / example), run_name="__main__")
    assert capsys.readouterr().out.strip().splitlines()[-1] == EXAMPLE_LAST_LINES[example]


def test_every_example_is_run():
    assert sorted(p.name for p in (ROOT / "examples").glob("*.py")) == sorted(EXAMPLE_LAST_LINES)


@pytest.mark.parametrize(
    "args,input_desc",
    [
        (["lraspp_mobilenet_v3_large", "-p", "backbone"], "images 2x3x224x224"),  # segmentation: dict output
        (["raft_small", "-p", "feature_encoder"], "image pairs 2x3x128x128"),  # optical flow: list of flows
        (["googlenet", "-p", "conv1"], "images 2x3x224x224"),  # aux classifiers must get gradients too
        (["ssdlite320_mobilenet_v3_large", "-p", "backbone"], "2 images 3x256x256 with one box each"),  # detection
        (["r3d_18", "-p", "stem", "--batch-size", "1"], "clips 1x3x16x112x112"),  # video
    ],
)
def test_verify_infers_inputs_per_family(cli, args, input_desc):
    code, out, err = cli("verify", *args, "--steps", "1", "--warmup", "0", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["input"] == input_desc
    assert data["checks"][0]["ok"] and data["checks"][1]["ok"], data["checks"]


def test_api_rejects_unknown_policy_and_expectation_keys():
    from freezekit.errors import UsageError

    model = torchvision.models.resnet18()
    with pytest.raises(UsageError, match="BatchNorm policy 'evl' is not one of train, eval, frozen"):
        freezekit.freeze(model, rules=["layer1"], batchnorm="evl")
    with pytest.raises(UsageError, match="expect: .*'trainabel'"):
        freezekit.freeze(model, rules=["layer1"], expect={"trainabel": 3})
    assert all(p.requires_grad for p in model.parameters()) and type(model.layer1[0].bn1).__name__ == "BatchNorm2d"


def test_layers_without_running_statistics_are_left_alone():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4, track_running_stats=False))
    x = torch.randn(5, 3)
    before = model.eval()(x)
    report = freezekit.freeze(model, rules=["1"], batchnorm="frozen")
    assert type(model[1]).__name__ == "BatchNorm1d" and torch.equal(model.eval()(x), before)
    assert [n.note for n in report.report.norms] == ["no running statistics: left as is"]


def test_manifest_from_the_api_needs_a_model_or_a_source(cli, tmp_path):
    freezekit.save_manifest(freezekit.freeze(torchvision.models.resnet18(), rules=["layer1"]), str(tmp_path / "a.json"))
    code, _, err = cli("check", tmp_path / "a.json")
    assert code == ExitCode.USAGE and "written from Python for a ResNet object" in err
    assert cli("check", tmp_path / "a.json", "resnet18")[0] == 0
    named = freezekit.freeze(torchvision.models.resnet18(), rules=["layer1"], source="resnet18")
    freezekit.save_manifest(named, str(tmp_path / "b.json"))
    assert cli("check", tmp_path / "b.json")[0] == 0


def test_a_hand_edited_manifest_is_drift(cli, tmp_path):
    path = tmp_path / "m.json"
    freezekit.save_manifest(
        freezekit.freeze(torchvision.models.resnet18(), rules=["layer1"], source="resnet18"), str(path)
    )
    doc = json.loads(path.read_text())
    doc["parameters"]["fc.bias"] = "999:float32"
    path.write_text(json.dumps(doc))
    code, out, _ = cli("check", path)
    assert code == ExitCode.DRIFT and "edited by hand" in out


def test_one_warning_rule_for_verify_and_distributed_verify():
    """verify and verify --ddp/--fsdp print the same checks as warnings (verify/result.warned)."""
    from freezekit.verify.result import Check, warned

    failed = Check("bytes match the plan", False, "off by 3%", severity="warning")
    listed = Check("statistics update", True, "2 layers", ("bn1", "bn2"), severity="warning")
    quiet = Check("gradients", True, "all", severity="warning")
    error = Check("frozen unchanged", False, "moved", ("a",))
    assert warned((failed, listed, quiet, error), warnings_fail=False) == (failed, listed)
    assert warned((failed, listed, quiet, error), warnings_fail=True) == (listed,)  # --strict: failed ones fail
