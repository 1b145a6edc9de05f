"""What the confinement of hf: folders still accepts (the refusals are in tests/cli/test_untrusted_hub_files.py):
a cached repo whose files link into its own blobs/, links inside a folder, adapter paths inside the
adapter's folder or in the cache, revisions by hash and by ref name, manifests that keep their folders
beside them; and the offline switch around hub library calls."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

from freezekit.sources import hub_offline
from freezekit.sources.adapter_paths import confined_config
from freezekit.sources.spec import SourceOptions
from tests.cli.test_untrusted_hub_files import COMMIT, cache
from tests.sources.hub_fixtures import *  # noqa: F403 - fixtures

TINY_LLAMA_TOTAL = 12304 - 896  # tests/sources/test_peft_source.py: the 4-layer base alone


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_cached_repo_links_into_its_own_blobs_and_loads(cli, tmp_path, own_cache, tiny_llama):
    cache(tmp_path, "acme/tiny", tiny_llama)
    d = report_json(cli, "hf:acme/tiny", "--no-cache")  # noqa: F405
    assert d["totals"]["total"] == TINY_LLAMA_TOTAL
    code, _, err = cli("freeze", "hf:acme/tiny", "--save", tmp_path / "out.safetensors", "--format", "json")
    assert code == 0, err


def test_revisions_by_commit_hash_and_by_ref_name(cli, tmp_path, own_cache, tiny_llama):
    repo = cache(tmp_path, "acme/tiny", tiny_llama)
    (repo / "refs" / "v1.0").write_text(COMMIT)
    for revision in (COMMIT, "v1.0"):
        d = report_json(cli, "hf:acme/tiny", "--revision", revision, "--no-cache")  # noqa: F405
        assert d["totals"]["total"] == TINY_LLAMA_TOTAL


def test_a_link_inside_the_folder_is_followed(cli, tmp_path, tiny_llama):
    folder = tmp_path / "model"
    shutil.copytree(tiny_llama, folder)
    (folder / "weights").mkdir()
    (folder / "model.safetensors").rename(folder / "weights" / "real.safetensors")
    os.symlink("weights/real.safetensors", folder / "model.safetensors")
    code, _, err = cli("freeze", f"hf:{folder}", "--save", tmp_path / "out.safetensors", "--format", "json")
    assert code == 0, err


def test_adapter_paths_inside_the_folder_or_the_cache_are_handed_over_absolute(tmp_path, own_cache, tiny_llama):
    cache(tmp_path, "acme/tok", tiny_llama)
    (tmp_path / "lora" / "tok").mkdir(parents=True)
    data = {
        "tokenizer_name_or_path": "tok",
        "shadow_model": "mirror",
        "base_model_name_or_path": "../elsewhere",
        "target_modules": r".*\..*proj",
        "corda_config": {"cache_file": None},
        "prompt_tuning_init_state_dict_path": "acme/tok",
    }
    got = confined_config(data, tmp_path / "lora", "hf:lora")
    assert got == {
        **data,
        "tokenizer_name_or_path": str((tmp_path / "lora" / "tok").absolute()),
        "prompt_tuning_init_state_dict_path": str(own_cache / "models--acme--tok" / "snapshots" / COMMIT),
    }


def test_offline_sets_and_restores_the_hub_flags(monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with hub_offline.offline():
        assert (os.environ["HF_HUB_OFFLINE"], os.environ["TRANSFORMERS_OFFLINE"]) == ("1", "1")
        assert constants.is_offline_mode() is True
    assert "HF_HUB_OFFLINE" not in os.environ and os.environ["TRANSFORMERS_OFFLINE"] == "0"
    assert constants.is_offline_mode() is False
    with hub_offline.offline(False):  # --download
        assert "HF_HUB_OFFLINE" not in os.environ and constants.is_offline_mode() is False
    assert "huggingface_hub.constants" in sys.modules


def test_a_manifest_records_folders_beside_it_and_check_reads_them_from_anywhere(
    cli, tmp_path, monkeypatch, tiny_llama, tiny_lora
):
    shutil.copytree(tiny_llama, tmp_path / "work" / "base")
    shutil.copytree(tiny_lora, tmp_path / "work" / "lora")
    monkeypatch.chdir(tmp_path / "work")
    code, _, err = cli("freeze", "hf:lora", "--base", "hf:base", "--manifest", "lock.json", "--format", "json")
    assert code == 0, err
    model = json.loads((tmp_path / "work" / "lock.json").read_text())["model"]
    assert (model["source"], model["hub"]) == ("hf:lora", {"base": "hf:base"})
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("check", "work/lock.json")
    assert code == 0, err
    assert out.startswith("manifest matches:")


def test_a_tokenizer_folder_inside_the_adapter_may_not_link_out(tmp_path):
    from freezekit.errors import ModelError

    (tmp_path / "lora" / "tok").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink("../../secret.txt", tmp_path / "lora" / "tok" / "vocab.txt")
    with pytest.raises(
        ModelError, match=r"hf:lora \(tokenizer_name_or_path\): vocab.txt is a symbolic link leading out"
    ):
        confined_config({"tokenizer_name_or_path": "tok"}, tmp_path / "lora", "hf:lora")


@pytest.mark.parametrize("download, offline", [(False, True), (True, False)])
def test_hf_models_are_built_offline_unless_download(monkeypatch, tiny_llama, download, offline):
    """transformers and peft run inside hub_offline.offline(): a repo id a file names is never fetched."""
    import huggingface_hub.constants as constants

    from freezekit.adapter import hf_models
    from freezekit.sources import hf_source
    from freezekit.sources.registry import parse_source

    seen = []
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_models, "build_hf", lambda *a, **k: seen.append(constants.is_offline_mode()) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        hf_source.load(parse_source(f"hf:{tiny_llama}", SourceOptions(download=download)), materialize=False)
    assert seen == [offline] and constants.is_offline_mode() is False
