"""verify --ddp: found in review. Real processes (2 ranks, gloo, 127.0.0.1)."""
from __future__ import annotations

from pathlib import Path

MODELS = Path(__file__).with_name("dist_models.py")


def test_a_rank_that_dies_is_named_instead_of_its_peers_connection_error(cli):
    """Was exit 2 'rank 0 of 2: the training step failed on the synthetic input ...: Connection reset
    by peer ...; pass --input-shape': a usage error blaming the input for a dead peer."""
    code, out, err = cli("verify", f"{MODELS}:build_dies_on_rank_one", "--input-shape", "6", "--ddp", "2",
                         "--timeout", "60")
    assert (code, out) == (10, "")
    assert err == "freezekit: error: rank 1 of 2: rank 1 exited with code 3 before reporting\n"


def test_a_batch_no_rank_can_allocate_is_a_usage_error(cli):
    """Single-process verify says 'lower --batch-size' (exit 2); under --ddp it was exit 10 with the
    allocator's RuntimeError, as if DDP had refused the freeze."""
    code, out, err = cli("verify", f"{MODELS}:build_unused", "--input-shape", "6", "--ddp", "2",
                         "--batch-size", "1000000000000", "--timeout", "60")
    assert (code, out) == (2, "")
    assert err == ("freezekit: error: rank 0 of 2: cannot allocate a synthetic batch of 1000000000000 on cpu; "
                   "lower --batch-size\n")


def test_what_the_ranks_print_stays_out_of_the_json(tmp_path):
    """The ranks' stdout was the parent's: `verify --ddp 2 --format json` began with what forward printed.
    A fresh interpreter, because CliRunner captures only the parent's sys.stdout, not the ranks' fd 1."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "freezekit", "verify", f"{MODELS}:build_noisy", "--input-shape", "6",
                           "--ddp", "2", "--steps", "1", "--format", "json", "--timeout", "60"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["world_size"] == 2
    assert proc.stderr.count("forward") == 4  # one step and DDP's closing forward, on 2 ranks
