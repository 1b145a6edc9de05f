"""timm: sources: built on the meta device, counted exactly, weights only from the local cache."""

from __future__ import annotations

import json

import pytest

from tests.sources.hub_fixtures import *  # noqa: F403 - fixtures

timm = pytest.importorskip("timm")

# One or two small members of many families: CNNs, ViTs, hybrids, MLPs, NAS nets, reparametrized nets.
FAMILIES = """resnet18 efficientnet_b0 mobilenetv3_small_050 mobilenetv2_050 regnetx_002 regnety_002 densenet121
dla46_c ghostnet_050 mixnet_s mnasnet_small efficientvit_b0 levit_128s pit_ti_224 gmlp_ti16_224 mobilevit_xxs
repvgg_a0 hrnet_w18_small rexnet_100 tinynet_e lcnet_050 ese_vovnet19b_slim hgnetv2_b0 nf_resnet26
maxvit_nano_rw_256 visformer_tiny skresnet18 efficientformer_l1 mobileone_s0 dpn48b gcresnext26ts
cs3darknet_focus_s lambda_resnet26t resmlp_12_224 xcit_nano_12_p16_224""".split()


@pytest.mark.parametrize("name", FAMILIES)
def test_meta_totals_equal_the_real_build(cli, name):
    real = timm.create_model(name, pretrained=False)
    d = report_json(cli, f"timm:{name}", "--no-cache")  # noqa: F405
    assert d["totals"]["total"] == real_total(real)  # noqa: F405
    assert d["totals"]["tensors"] == len(set(real.parameters()))


def test_enough_families():
    assert len(FAMILIES) >= 30


def test_exact_counts_and_args_pass_through(cli):
    assert report_json(cli, "timm:resnet18")["totals"]["total"] == 11_689_512  # noqa: F405
    d = report_json(cli, "timm:resnet18", "--arg", "num_classes=10", "--default", "frozen", "-u", "fc")  # noqa: F405
    assert d["totals"]["trainable"] == 512 * 10 + 10
    assert d["totals"]["total"] == 11_689_512 - 513 * 1000 + 513 * 10


def test_unknown_names_and_reserved_args(cli):
    code, out, err = cli("count", "timm:resnet181")
    assert code == 4 and out == "" and "unknown timm model 'resnet181'; did you mean resnet18" in err
    code, _, err = cli("count", "timm:")
    assert code == 4 and "timm: needs a model name" in err
    code, _, err = cli("count", "timm:resnet18", "--arg", "pretrained=true")
    assert code == 2 and "--arg pretrained" in err


def test_models_lists_timm_names_and_tags(cli):
    code, out, _ = cli("models", "--source", "timm", "vit_tiny_patch16")
    assert code == 0 and out.split() == [n for n in timm.list_models() if "vit_tiny_patch16" in n]
    code, out, _ = cli("models", "--source", "timm", "--weights", "resnet18")
    assert code == 0 and out.splitlines()[0] == "DEFAULT (= a1_in1k)" and "tv_in1k" in out.split()


def test_weights_missing_from_the_cache_exit_5_naming_path_and_repo(cli, hub_env):
    code, out, err = cli("count", "timm:resnet18", "--weights", "DEFAULT")
    assert code == 5 and out == ""
    assert "timm/resnet18.a1_in1k" in err and str(hub_env / "models--timm--resnet18.a1_in1k") in err
    assert "--download" in err
    code, _, err = cli("count", "timm:resnet18", "--weights", "a2_in1kk")
    assert code == 5 and "did you mean 'a2_in1k'" in err


def test_weights_load_from_the_local_cache(cli, hub_env, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    torch.manual_seed(1)
    state = {k: v.contiguous() for k, v in timm.create_model("resnet18").state_dict().items()}
    snapshot = tmp_path / "snap"
    snapshot.mkdir()
    save_file(state, snapshot / "model.safetensors")
    plant_in_cache(hub_env, "timm/resnet18.tv_in1k", snapshot)  # noqa: F405
    out = tmp_path / "frozen.safetensors"
    code, _, err = cli(
        "freeze", "timm:resnet18", "--weights", "tv_in1k", "-p", "through:layer3", "--save", out, "--format", "json"
    )
    assert code == 0, err
    assert load_file(out)["layer4.1.conv2.weight"].equal(state["layer4.1.conv2.weight"])


def test_second_count_comes_from_the_cache_without_torch(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "FREEZEKIT_CACHE_DIR": str(tmp_path)}
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom freezekit.cli.app import app\n"
        "r = CliRunner().invoke(app, ['count', 'timm:lcnet_050', '--format', 'json'])\n"
        "print(r.exit_code, 'torch' in sys.modules, 'timm' in sys.modules)\nprint(r.stdout)"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
        for _ in range(2)
    ]
    assert [r.partition("\n")[0] for r in runs] == ["0 True True", "0 False False"]
    assert json.loads(runs[1].partition("\n")[2])["totals"]["total"] == 1_880_856


def test_verify_takes_the_input_size_of_the_timm_config(cli):
    code, out, err = cli(
        "verify", "timm:lcnet_050", "-p", "through:blocks.2", "--format", "json", "--steps", "1", "--warmup", "0"
    )
    assert code == 0, err
    result = json.loads(out)
    assert all(c["ok"] for c in result["checks"]) and "2x3x224x224" in json.dumps(result)
