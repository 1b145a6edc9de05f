"""The hostile-input corpus for hf: folders, PEFT adapters and hub caches (issue 20, classes 1-6 and 11).

Same contract as tests/cli/test_bad_inputs_untrusted.py: exit code, exactly one stderr line, no
traceback, nothing written or changed under the case's folder (its own HF cache included), and
no marker touched. Every case is built from copies of the session's tiny Llama and LoRA adapter
(tests/sources/hub_fixtures.py); nothing is downloaded, and nothing is built before the refusal.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
from typing import Callable

import pytest

from freezekit.errors import ExitCode as X
from tests.cli.test_bad_inputs import MARKER, snapshot
from tests.cli.test_bad_inputs_untrusted import _no_reader_blocked, fifo  # noqa: F401 - the FIFO watchdog
from tests.sources.hub_fixtures import *  # noqa: F403 - fixtures

pytest.importorskip("peft")

COMMIT = "0123456789abcdef0123456789abcdef01234567"
Fixtures = dict[str, pathlib.Path]
Builder = Callable[[pathlib.Path, Fixtures], list]


# -- folder makers ------------------------------------------------------------------


def model(t: pathlib.Path, fx: Fixtures, name: str = "model", weights: bool = True) -> pathlib.Path:
    """A copy of the tiny Llama in t/name (config.json, model.safetensors unless not weights)."""
    folder = t / name
    shutil.copytree(fx["llama"], folder, ignore=None if weights else shutil.ignore_patterns("*.safetensors"))
    return folder


def victim(t: pathlib.Path, fx: Fixtures) -> pathlib.Path:
    return model(t, fx, "victim")


def index(folder: pathlib.Path, shard: str, name: str = "model.safetensors.index.json") -> None:
    """An index that puts every tensor of the tiny Llama in `shard` (a path relative to folder)."""
    from safetensors import safe_open

    with safe_open(str(next(iter(folder.parent.glob("victim/model.safetensors")))), "pt") as f:
        keys = list(f.keys())
    (folder / name).write_text(json.dumps({"metadata": {}, "weight_map": dict.fromkeys(keys, shard)}))


def shards_out(
    shard: Callable[[pathlib.Path], str], *command: str, index_name: str = "model.safetensors.index.json"
) -> Builder:
    def build(t: pathlib.Path, fx: Fixtures) -> list:
        victim(t, fx)
        folder = model(t, fx, weights=False)
        index(folder, shard(t), index_name)
        return [*command, "hf:model"] + (["--save", "out.safetensors"] if command[0] == "freeze" else [])

    return build


def linked_out(name: str, *command: str, config: bool = True) -> Builder:
    """t/model/<name> is a symbolic link to the victim's file of that name."""

    def build(t: pathlib.Path, fx: Fixtures) -> list:
        victim(t, fx)
        folder = model(t, fx)
        if not config:
            (folder / "config.json").unlink()
        (folder / name).unlink()
        os.symlink(f"../victim/{name}", folder / name)
        return [*command, "hf:model"]

    return build


def weights_fifo(t: pathlib.Path, fx: Fixtures) -> list:
    folder = model(t, fx)
    (folder / "model.safetensors").unlink()
    fifo(t, "model/model.safetensors")
    return ["freeze", "hf:model", "--save", "out.safetensors"]


def cache(t: pathlib.Path, repo_id: str, folder: pathlib.Path | None = None, ref: bytes | None = None) -> pathlib.Path:
    """t/cache (HF_HUB_CACHE) with repo_id in huggingface_hub's layout: files are links into blobs/."""
    repo = t / "cache" / f"models--{repo_id.replace('/', '--')}"
    snap = repo / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for i, path in enumerate(sorted(folder.iterdir()) if folder else ()):
        shutil.copy(path, repo / "blobs" / f"blob{i}")
        os.symlink(f"../../blobs/blob{i}", snap / path.name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_bytes(COMMIT.encode() if ref is None else ref)
    return repo


def cached_link_out(t: pathlib.Path, fx: Fixtures) -> list:
    repo = cache(t, "acme/evil", model(t, fx, "src"))
    victim(t, fx)
    os.unlink(repo / "snapshots" / COMMIT / "model.safetensors")
    os.symlink(t / "victim" / "model.safetensors", repo / "snapshots" / COMMIT / "model.safetensors")
    return ["count", "hf:acme/evil", "--no-cache"]


def adapter(t: pathlib.Path, fx: Fixtures, **fields) -> pathlib.Path:
    """A copy of the tiny LoRA in t/lora with fields added to its adapter_config.json, and t/base."""
    model(t, fx, "base")
    folder = t / "lora"
    shutil.copytree(fx["lora"], folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, **fields}))
    return folder


def adapter_field(**fields) -> Builder:
    def build(t: pathlib.Path, fx: Fixtures) -> list:
        adapter(t, fx, **{k: v.replace("TMP", str(t)) if isinstance(v, str) else v for k, v in fields.items()})
        (t / "secret.safetensors").write_bytes(b"secret")
        return ["count", "hf:lora", "--base", "hf:base", "--no-cache"]

    return build


def adapter_fifo_tokenizer(t: pathlib.Path, fx: Fixtures) -> list:
    adapter(t, fx, tokenizer_name_or_path="tok")
    fifo(t, "lora/tok")
    return ["count", "hf:lora", "--base", "hf:base", "--no-cache"]


def deep_adapter(t: pathlib.Path, fx: Fixtures) -> list:
    folder = adapter(t, fx)
    text = (folder / "adapter_config.json").read_text()
    (folder / "adapter_config.json").write_text(text[:-1] + ', "x": ' + "[" * 2000 + "]" * 2000 + "}")
    return ["count", "hf:lora", "--base", "hf:base", "--no-cache"]


def base_in_working_folder(t: pathlib.Path, fx: Fixtures) -> list:
    """base_model_name_or_path 'acme/base' is a folder of the working directory, not in the cache."""
    adapter(t, fx, base_model_name_or_path="acme/base")
    model(t, fx, "acme/base")
    return ["count", "hf:lora", "--no-cache"]


def hub_manifest(source: str, folder: str = ".", args: dict | None = None, **hub) -> Builder:
    def build(t: pathlib.Path, fx: Fixtures) -> list:
        adapter(t, fx)  # and t/base
        model(t, fx, "acme/x")  # a folder of the working directory named like a repo id
        (t / folder).mkdir(exist_ok=True)
        doc = {
            "schema": "freezekit.manifest",
            "schema_version": 1,
            "model": {
                "source": source.replace("TMP", str(t)),
                "kind": "hf",
                "weights": None,
                "weights_file": None,
                "args": args or {},
                **({"hub": hub} if hub else {}),
            },
            "default": "trainable",
            "rules": [],
            "frozen": [],
            "fingerprint": "sha256:0",
            "parameters": {},
            "versions": {},
        }
        (t / folder / "lock.json").write_text(json.dumps(doc).replace('"INF"', "Infinity"))
        return ["check", f"{folder}/lock.json"]

    return build


def protected(*command: str) -> Builder:
    def build(t: pathlib.Path, fx: Fixtures) -> list:
        adapter(t, fx)
        return list(command)

    return build


def export_over_config(t: pathlib.Path, fx: Fixtures) -> list:
    model(t, fx)
    (t / "recipe.html").write_text("model:\n  name: hf:model\n")
    return ["count", "-c", "recipe.html", "--export", "recipe.html", "--no-cache"]


def config_with(**changes) -> Builder:
    def build(t: pathlib.Path, fx: Fixtures) -> list:
        folder = model(t, fx)
        config = json.loads((folder / "config.json").read_text())
        text = json.dumps({**config, **changes})
        if "DEEP" in text:
            text = text.replace('"DEEP"', "[" * 2000 + "]" * 2000)
        (folder / "config.json").write_text(text)
        return ["count", "hf:model", "--no-cache"]

    return build


def damaged_cache(ref: bytes | None = None, snapshots_file: bool = False, refs_fifo: bool = False) -> Builder:
    def build(t: pathlib.Path, fx: Fixtures) -> list:
        repo = cache(t, "acme/x", model(t, fx, "src"), ref)
        if snapshots_file:
            shutil.rmtree(repo / "snapshots")
            (repo / "snapshots").write_text("not a folder")
        if refs_fifo:
            (repo / "refs" / "main").unlink()
            fifo(t, "cache/models--acme--x/refs/main")
        return ["count", "hf:acme/x", "--no-cache"]

    return build


def revision_file(t: pathlib.Path, fx: Fixtures) -> list:
    cache(t, "acme/x", model(t, fx, "src"))
    return ["count", "hf:acme/x", "--revision", "../../../../etc/hostname", "--no-cache"]


VICTIM_SHARD = "victim/model.safetensors"
CASES = [
    # 1. an index's shards, for every loader (freeze --save, verify, count)
    pytest.param(
        shards_out(lambda t: f"../{VICTIM_SHARD}", "freeze"),
        X.WEIGHTS,
        "names shard '../victim/model.safetensors', which lies outside the folder",
        id="1 freeze --save: ..",
    ),
    pytest.param(
        shards_out(lambda t: f"../{VICTIM_SHARD}", "verify"),
        X.WEIGHTS,
        "names shard '../victim/model.safetensors', which lies outside the folder",
        id="1 verify: ..",
    ),
    pytest.param(
        shards_out(lambda t: str(t / VICTIM_SHARD), "count", "--no-cache"),
        X.WEIGHTS,
        "which lies outside the folder; refused without opening it",
        id="1 count: absolute shard",
    ),
    pytest.param(
        shards_out(lambda t: "../victim/pytorch_model.bin", "freeze", index_name="pytorch_model.bin.index.json"),
        X.WEIGHTS,
        "pytorch_model.bin.index.json names shard '../victim/pytorch_model.bin'",
        id="1 pytorch_model.bin index",
    ),
    # 2. paths an adapter_config.json names
    pytest.param(
        adapter_field(tokenizer_name_or_path="TMP/base", prompt_tuning_init="TEXT"),
        X.MODEL,
        "adapter_config.json's tokenizer_name_or_path",
        id="2 tokenizer: absolute folder",
    ),
    pytest.param(
        adapter_fifo_tokenizer,
        X.MODEL,
        "tokenizer_name_or_path 'tok' is not a regular file or a folder",
        id="2 tokenizer: a FIFO in the folder",
    ),
    pytest.param(
        adapter_field(prompt_tuning_init_state_dict_path="../secret.safetensors"),
        X.MODEL,
        "prompt_tuning_init_state_dict_path '../secret.safetensors' is neither inside",
        id="2 MPT init: ..",
    ),
    pytest.param(
        adapter_field(shadow_model="acme/shadow"),
        X.MODEL,
        "shadow_model 'acme/shadow' is neither inside the adapter's folder nor a repo id in the local cache",
        id="2 SHADOW: repo id not cached (no network)",
    ),
    pytest.param(
        adapter_field(corda_config={"cache_file": "/etc/passwd"}),
        X.MODEL,
        "corda_config.cache_file '/etc/passwd'",
        id="2 nested cache_file",
    ),
    pytest.param(
        adapter_field(future_option="../../secret.safetensors"),
        X.MODEL,
        "future_option '../../secret.safetensors'",
        id="2 any field holding a path",
    ),
    pytest.param(deep_adapter, X.MODEL, "adapter_config.json: nested too deeply", id="11 deep adapter_config"),
    # 3. a base named ORG/NAME is a repo id
    pytest.param(
        base_in_working_folder,
        X.MODEL,
        "hf:acme/base: not in the local Hugging Face cache",
        id="3 base ORG/NAME: never the working folder",
    ),
    # 4. a manifest's hf: source, base and revision
    pytest.param(
        hub_manifest("hf:../base", folder="m"),
        X.CONFIG,
        "model.source '../base' leaves the manifest's folder",
        id="4 manifest source: ..",
    ),
    pytest.param(hub_manifest("hf:TMP/base"), X.CONFIG, "is an absolute path", id="4 manifest source: absolute"),
    pytest.param(
        hub_manifest("hf:../lora", folder="m", base="hf:../base"),
        X.CONFIG,
        "model.hub.base '../base' leaves the manifest's folder",
        id="4 manifest hub.base: ..",
    ),
    pytest.param(
        hub_manifest("hf:acme/x", revision="../../../../etc/hostname"),
        X.CONFIG,
        "model.hub.revision '../../../../etc/hostname': not a commit hash",
        id="4 manifest hub.revision: a file",
    ),
    pytest.param(
        hub_manifest("hf:acme/x", folder="m"),
        X.MODEL,
        "hf:acme/x: not in the local Hugging Face cache",
        id="4 manifest ORG/NAME: never the working folder",
    ),
    # 5. links and non-regular files inside an hf: folder
    pytest.param(
        linked_out("model.safetensors", "freeze", "--save", "out.safetensors"),
        X.WEIGHTS,
        "model.safetensors is a symbolic link leading out of the folder",
        id="5 weights linked out",
    ),
    pytest.param(
        linked_out("config.json", "count", "--no-cache"),
        X.MODEL,
        "config.json is a symbolic link leading out of the folder",
        id="5 config linked out",
    ),
    pytest.param(
        linked_out("model.safetensors", "count", "--no-cache", config=False),
        X.WEIGHTS,
        "model.safetensors is a symbolic link leading out",
        id="5 weights-only folder linked out",
    ),
    pytest.param(weights_fifo, X.WEIGHTS, "model.safetensors is not a regular file", id="5 weights are a FIFO"),
    pytest.param(
        cached_link_out,
        X.WEIGHTS,
        "hf:acme/evil: model.safetensors is a symbolic link leading out",
        id="5 cached snapshot linked out of its repo",
    ),
    # 6. inputs protected from outputs
    pytest.param(
        protected("freeze", "hf:lora", "--base", "hf:base", "--manifest", "base/config.json", "--force"),
        X.OUTPUT,
        "base/config.json: is also an input",
        id="6 --manifest over the base's config",
    ),
    pytest.param(
        protected("freeze", "hf:lora", "--base", "hf:base", "--save", "base/model.safetensors", "--force"),
        X.OUTPUT,
        "base/model.safetensors: is also an input",
        id="6 --save over the base's weights",
    ),
    pytest.param(export_over_config, X.OUTPUT, "recipe.html: is also an input", id="6 --export over the config"),
    # 11. one line, not a traceback
    pytest.param(
        config_with(architectures={"a": 1}),
        X.MODEL,
        "'architectures' must be a list of class names",
        id="11 architectures a mapping",
    ),
    pytest.param(
        config_with(architectures=True),
        X.MODEL,
        "'architectures' must be a list of class names, not True",
        id="11 architectures true",
    ),
    pytest.param(config_with(x="DEEP"), X.MODEL, "config.json: nested too deeply", id="11 deep config.json"),
    pytest.param(
        lambda t, fx: ["count", "mobilenet_v2", "--arg", "width_mult=1.0e+308", "--no-cache"],
        X.MODEL,
        "could not be built with {'width_mult': 1e+308}: OverflowError",
        id="11 --arg 1e308",
    ),
    pytest.param(
        hub_manifest("hf:base", args={"width_mult": "INF"}),
        X.CONFIG,
        "Infinity is not a JSON number",
        id="11 manifest Infinity",
    ),
    pytest.param(
        revision_file,
        X.USAGE,
        "--revision '../../../../etc/hostname': not a commit hash",
        id="11 --revision names a file",
    ),
    pytest.param(
        damaged_cache(ref=b"\xff\xfe\x00"), X.MODEL, "(refs/main holds no commit hash)", id="11 refs/main not UTF-8"
    ),
    pytest.param(damaged_cache(snapshots_file=True), X.MODEL, "snapshots is not a folder)", id="11 snapshots a file"),
    pytest.param(damaged_cache(refs_fifo=True), X.MODEL, "(refs/main is not a regular file)", id="11 refs/main a FIFO"),
]


@pytest.fixture
def fx(tiny_llama, tiny_lora) -> Fixtures:
    return {"llama": tiny_llama, "lora": tiny_lora}


@pytest.mark.parametrize("build, code, fragment", CASES)
def test_untrusted_hub_file_fails_cleanly(cli, tmp_path, monkeypatch, fx, build, code, fragment):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE")  # freezekit itself must keep the hub libraries offline
    args = build(tmp_path, fx)
    before = snapshot(tmp_path)
    exit_code, out, err = cli(*args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert not (tmp_path / MARKER).exists(), "code named by a file ran"
    assert "Traceback" not in out + err
    assert len(lines) == 1, err
    assert lines[0].startswith("freezekit: error: "), err
    assert fragment in lines[0], lines[0]
    assert exit_code == code, (exit_code, err)
    assert snapshot(tmp_path) == before, "the command wrote or changed files"
