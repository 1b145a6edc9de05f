import json

import pytest
import torch
import torchvision
from safetensors import safe_open
from safetensors.torch import load_file

from freezekit.errors import ExitCode


@pytest.fixture(scope="module")
def vgg_home(tmp_path_factory):
    """A TORCH_HOME whose hub cache holds VGG16's DEFAULT file (random values, made here)."""
    home = tmp_path_factory.mktemp("torch_home")
    ckpt = home / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.vgg16().state_dict(), ckpt / "vgg16-397923af.pth")
    return home


def test_pretrained_from_cache_save_manifest_check(cli, vgg_home, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(vgg_home))
    out_st, out_json = tmp_path / "out.safetensors", tmp_path / "out.json"
    code, _, err = cli(
        "freeze",
        "vgg16",
        "--weights",
        "DEFAULT",
        "-p",
        "features.*",
        "--save",
        out_st,
        "--manifest",
        out_json,
        "-f",
        "json",
    )
    assert code == 0, err
    cached = torch.load(vgg_home / "hub/checkpoints/vgg16-397923af.pth", weights_only=True)
    saved = load_file(out_st)
    assert set(saved) == set(cached)
    assert all(torch.equal(saved[k], cached[k]) for k in cached)
    with safe_open(out_st, "pt") as f:
        embedded = json.loads(f.metadata()["freezekit_manifest"])
    manifest = json.loads(out_json.read_text())
    assert embedded == manifest
    assert manifest["model"] == {
        "source": "vgg16",
        "kind": "torchvision",
        "weights": "IMAGENET1K_V1",  # not DEFAULT
        "weights_file": None,
        "args": {},
    }
    assert len(manifest["frozen"]) == 26 and manifest["frozen"][0] == "features.0.weight"
    assert manifest["counts"] == {"parameters": 138357544, "frozen": 14714688}
    assert manifest["fingerprint"].startswith("sha256:") and manifest["versions"]["torch"]
    code, out, err = cli("check", out_json, "vgg16")
    assert code == 0, err
    assert out.startswith("manifest matches: 14,714,688 of 138,357,544 parameters frozen")
    # the same command again refuses to overwrite, and leaves the files as they were
    before = out_st.stat().st_mtime_ns
    code, _, err = cli("freeze", "vgg16", "--weights", "DEFAULT", "-p", "features.*", "--save", out_st)
    assert code == ExitCode.OUTPUT and "already exists; pass --force" in err
    assert out_st.stat().st_mtime_ns == before


def test_missing_weights_fail_fast_and_write_nothing(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_home"))
    out = tmp_path / "out"
    out.mkdir()
    code, stdout, err = cli(
        "freeze",
        "vgg16",
        "--weights",
        "DEFAULT",
        "-p",
        "features.*",
        "--save",
        out / "o.safetensors",
        "--manifest",
        out / "o.json",
    )
    assert code == ExitCode.WEIGHTS
    expected = tmp_path / "empty_home" / "hub" / "checkpoints" / "vgg16-397923af.pth"
    assert f"expected {expected}" in err and "https://download.pytorch.org/models/vgg16-397923af.pth" in err
    assert len(err.strip().splitlines()) == 1 and stdout == ""
    assert list(out.iterdir()) == []


def test_download_is_tried_when_allowed_and_its_failure_names_path_and_url(cli, tmp_path, monkeypatch):
    import torch.hub

    calls = []

    def no_network(url, dst, *args, **kwargs):
        calls.append((url, dst))
        raise OSError("Temporary failure in name resolution")

    monkeypatch.delenv("FREEZEKIT_OFFLINE")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    code, _, err = cli("count", "resnet18", "--weights", "DEFAULT")
    expected = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert calls == [("https://download.pytorch.org/models/resnet18-f37072fd.pth", str(expected))]
    assert code == ExitCode.WEIGHTS
    assert "could not be downloaded (OSError): expected " + str(expected) in err


def test_unknown_weights_name(cli):
    code, _, err = cli("count", "resnet18", "--weights", "IMAGENET1K_V9")
    assert code == ExitCode.WEIGHTS and "did you mean 'IMAGENET1K_V1'" in err


def test_manifest_detects_drift(cli, tmp_path):
    manifest = tmp_path / "m.json"
    code, _, err = cli("freeze", "resnet18", "-p", "through:layer2", "--manifest", manifest, "-f", "json")
    assert code == 0, err
    code, out, _ = cli("check", manifest)
    assert code == 0
    code, out, err = cli("check", manifest, "resnet34")  # same names up to layer2? no: more blocks
    assert code == ExitCode.DRIFT == 11
    assert "parameters added" in out and "layer1.2.conv1.weight" in out
    assert err.startswith("freezekit: error: resnet34 no longer matches")
    doc = json.loads(manifest.read_text())
    doc["frozen"] = doc["frozen"][2:]
    manifest.write_text(json.dumps(doc))
    code, out, _ = cli("check", manifest, "-f", "json")
    data = json.loads(out)
    assert code == ExitCode.DRIFT and data["ok"] is False
    assert data["newly_frozen"] == ["conv1.weight", "bn1.weight"]


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("{", "not a JSON manifest"),
        ('{"schema": "other"}', "not a freezekit manifest"),
        ('{"schema": "freezekit.manifest", "schema_version": 1}', "damaged manifest"),
    ],
)
def test_bad_manifests(cli, tmp_path, text, fragment):
    path = tmp_path / "m.json"
    path.write_text(text)
    code, _, err = cli("check", path)
    assert code == ExitCode.CONFIG and fragment in err


def test_weights_file_roundtrip_and_mismatch(cli, tmp_path):
    model = torchvision.models.resnet18()
    torch.save(model.state_dict(), tmp_path / "r18.pt")
    code, out, err = cli(
        "freeze",
        "resnet18",
        "--weights-file",
        tmp_path / "r18.pt",
        "--default",
        "frozen",
        "-u",
        "fc",
        "--save",
        tmp_path / "again.pt",
        "-f",
        "json",
    )
    assert code == 0, err
    saved = torch.load(tmp_path / "again.pt", weights_only=True)
    assert all(torch.equal(saved["state_dict"][k], v) for k, v in model.state_dict().items())
    assert json.loads(saved["freezekit_manifest"])["frozen"][0] == "conv1.weight"
    code, _, err = cli("count", "resnet34", "--weights-file", tmp_path / "r18.pt")
    assert code == ExitCode.WEIGHTS
    assert "does not match the model; missing keys: layer1.2.conv1.weight" in err


def test_save_refuses_input_as_output_and_bad_suffix(cli, tmp_path):
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "r18.pt")
    code, _, err = cli(
        "freeze", "resnet18", "--weights-file", tmp_path / "r18.pt", "--save", tmp_path / "r18.pt", "--force"
    )
    assert code == ExitCode.OUTPUT and "is also an input" in err
    code, _, err = cli("freeze", "resnet18", "--save", tmp_path / "x.bin")
    assert code == ExitCode.OUTPUT and "must end in .safetensors, .pt or .pth" in err
    code, _, err = cli("freeze", "resnet18", "--save", tmp_path / "nope" / "x.pt")
    assert code == ExitCode.OUTPUT and "does not exist" in err


def test_models_weights_lists_enum_names_and_cache_state(cli, vgg_home, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(vgg_home))
    code, out, _ = cli("models", "--weights", "vgg16")
    assert code == 0
    lines = [line.split("\t") for line in out.strip().splitlines()]
    assert [row[0] for row in lines] == ["IMAGENET1K_V1 (DEFAULT)", "IMAGENET1K_FEATURES"]
    assert lines[0][1] == "cached" and lines[0][2].endswith("hub/checkpoints/vgg16-397923af.pth")
    assert lines[1][1] == "not cached"
    code, _, err = cli("models", "--weights", "vgg61")
    assert code == ExitCode.MODEL


def _weights_manifest(tmp_path, model: str, weights: str):
    doc = {
        "schema": "freezekit.manifest",
        "schema_version": 1,
        "model": {"source": model, "kind": "torchvision", "weights": weights, "weights_file": None, "args": {}},
        "default": "trainable",
        "rules": [],
        "frozen": [],
        "fingerprint": "sha256:0",
        "parameters": {},
        "versions": {},
    }
    path = tmp_path / "lock.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("model_arg", [(), ("vit_h_14",)], ids=["the manifest's model", "MODEL named"])
def test_check_never_downloads_the_weights_a_manifest_names(cli, tmp_path, monkeypatch, model_arg):
    """Issue 20, class 14: a manifest naming vit_h_14's 2.5 GB weights: one line and exit 5, no download
    tried (the network rule of --weights is for the user's own flag), nothing written."""
    import torch.hub

    calls = []
    monkeypatch.delenv("FREEZEKIT_OFFLINE")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda url, dst, *a, **k: calls.append(url))
    lock = _weights_manifest(tmp_path, "vit_h_14", "IMAGENET1K_SWAG_E2E_V1")
    code, out, err = cli("check", lock, *model_arg)
    expected = tmp_path / "home" / "hub" / "checkpoints" / "vit_h_14_swag-80465313.pth"
    assert (code, out, calls) == (ExitCode.WEIGHTS, "", [])
    assert err.splitlines() == [
        f"freezekit: error: weights ViT_H_14_Weights.IMAGENET1K_SWAG_E2E_V1 are not in the torch hub cache "
        f"(expected {expected}): {lock} names them; check downloads only with --download"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lock.json"]


def test_check_download_fetches_the_manifests_weights(cli, tmp_path, monkeypatch):
    import torch.hub

    calls = []

    def no_network(url, dst, *args, **kwargs):
        calls.append(url)
        raise OSError("Temporary failure in name resolution")

    monkeypatch.delenv("FREEZEKIT_OFFLINE")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    code, _, err = cli("check", _weights_manifest(tmp_path, "resnet18", "IMAGENET1K_V1"), "--download")
    assert code == ExitCode.WEIGHTS and "could not be downloaded (OSError)" in err
    assert calls == ["https://download.pytorch.org/models/resnet18-f37072fd.pth"]


def test_check_reads_the_manifests_weights_from_the_cache(cli, vgg_home, tmp_path, monkeypatch):
    """Cached weights need no flag (test_pretrained_from_cache_save_manifest_check checks the values)."""
    monkeypatch.setenv("TORCH_HOME", str(vgg_home))
    code, out, err = cli("check", _weights_manifest(tmp_path, "vgg16", "IMAGENET1K_V1"), "-f", "json")
    assert code == ExitCode.DRIFT and "no longer matches" in err  # the hand-written manifest lists no parameters
