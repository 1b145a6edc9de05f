"""verify --ddp when ranks fail or print: a dead rank named, a batch no rank can allocate, prints kept
out of the JSON, hf/timm inputs. Real processes (2 ranks, gloo, 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

MODELS = Path(__file__).with_name("dist_models.py")


def test_a_rank_that_dies_is_named_instead_of_its_peers_connection_error(cli):
    """Was exit 2 'rank 0 of 2: the training step failed on the synthetic input ...: Connection reset
    by peer ...; pass --input-shape': a usage error blaming the input for a dead peer."""
    code, out, err = cli(
        "verify", f"{MODELS}:build_dies_on_rank_one", "--input-shape", "6", "--ddp", "2", "--timeout", "60"
    )
    assert (code, out) == (10, "")
    assert err == "freezekit: error: rank 1 of 2: rank 1 exited with code 3 before reporting\n"


def test_a_batch_no_rank_can_allocate_is_a_usage_error(cli):
    """Single-process verify says 'lower --batch-size' (exit 2); under --ddp it was exit 10 with the
    allocator's RuntimeError, as if DDP had refused the freeze."""
    code, out, err = cli(
        "verify",
        f"{MODELS}:build_unused",
        "--input-shape",
        "6",
        "--ddp",
        "2",
        "--batch-size",
        "1000000000000",
        "--timeout",
        "60",
    )
    assert (code, out) == (2, "")
    assert err == (
        "freezekit: error: rank 0 of 2: cannot allocate a synthetic batch of 1000000000000 on cpu; lower --batch-size\n"
    )


def test_what_the_ranks_print_stays_out_of_the_json(tmp_path):
    """The ranks' stdout was the parent's: `verify --ddp 2 --format json` began with what forward printed.
    A fresh interpreter, because CliRunner captures only the parent's sys.stdout, not the ranks' fd 1."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "NO_COLOR": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "freezekit",
            "verify",
            f"{MODELS}:build_noisy",
            "--input-shape",
            "6",
            "--ddp",
            "2",
            "--steps",
            "1",
            "--format",
            "json",
            "--timeout",
            "60",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["world_size"] == 2
    assert proc.stderr.count("forward") == 4  # one step and DDP's closing forward, on 2 ranks


def test_hf_and_timm_models_get_their_own_inputs_under_ddp(cli, tmp_path, monkeypatch):
    """Single-process verify feeds hf: models token ids (hf_batch) and timm: models their config's
    image size; --ddp/--fsdp took both for 'custom': 'cannot infer an input', and with --input-shape
    float token ids (exit 2)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    config = LlamaConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=64,
        max_position_embeddings=64,
        architectures=["LlamaForCausalLM"],
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "llama")
    code, out, err = cli(
        "verify",
        f"hf:{tmp_path / 'llama'}",
        "-p",
        "through:model.layers.0",
        "--fsdp",
        "2",
        "--steps",
        "1",
        "--format",
        "json",
        "--timeout",
        "60",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["ok"] is True and doc["shard_by"] == ["LlamaDecoderLayer"]
    code, out, err = cli(
        "verify",
        "timm:lcnet_050",
        "-p",
        "through:blocks.2",
        "--ddp",
        "2",
        "--steps",
        "1",
        "--batch-size",
        "2",
        "--format",
        "json",
        "--timeout",
        "60",
    )
    assert code == 0, err
    assert json.loads(out)["ok"] is True  # no --input-shape: 3x224x224, from the timm config
