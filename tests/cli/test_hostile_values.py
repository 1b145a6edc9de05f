"""Hostile values on the command line and in manifests (an unparseable integer, --fsdp-flat on a
checkpoint, timeouts and empty lists): one line on stderr, a documented exit code."""

from __future__ import annotations

from freezekit.errors import ExitCode as X


def test_a_manifest_with_an_integer_too_long_to_parse_is_a_damaged_manifest(cli, tmp_path):
    path = tmp_path / "lock.json"
    path.write_text('{"schema": "freezekit.manifest", "schema_version": ' + "9" * 5000 + "}")
    code, out, err = cli("check", path)
    assert code == X.CONFIG and out == ""
    assert err.startswith(f"freezekit: error: {path}: not a JSON manifest: Exceeds the limit (4300 digits)")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_fsdp_flat_on_a_checkpoint_is_refused_like_shard_by(cli, tmp_path):
    """A checkpoint has no module tree: it is not one FSDP unit, and saying it mixes is a lie."""
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "m.safetensors"
    save_file({"stem.weight": torch.zeros(3, 2), "head.weight": torch.zeros(2, 3)}, str(path))
    code, out, err = cli("count", path, "-p", "stem", "--fsdp-flat")
    assert (code, out) == (X.RULE, "")
    assert (
        err
        == "freezekit: error: --fsdp-flat needs module types, and a checkpoint file has none; name the model instead\n"
    )
    code, _, err = cli("count", path, "--shard-by", "Linear")
    assert code == X.RULE and err.startswith("freezekit: error: --shard-by needs module types")


def test_a_timeout_the_process_group_cannot_take_is_a_usage_error(cli):
    """gloo keeps its timeout in milliseconds in a C int: 1e300 s made every rank fail (exit 10)."""
    for value in ("1e300", "inf", "86401"):
        code, out, err = cli("verify", "resnet18", "--ddp", "2", "--timeout", value)
        assert (code, out) == (X.USAGE, ""), (value, err)
        assert err.startswith("freezekit: error: Invalid value for '--timeout'") and err.count("\n") == 1


def test_an_empty_shard_by_is_a_bad_value_not_a_missing_one(cli):
    """`--shard-by ""` (an unset shell variable) was ignored: count printed no units, verify ran one process."""
    expected = "freezekit: error: --shard-by : expected module class names separated by commas"
    for args in (("count", "resnet18"), ("count", "resnet18", "--fsdp-flat"), ("verify", "resnet18", "--fsdp", "2")):
        code, out, err = cli(*args, "--shard-by", "")
        assert (code, out) == (X.USAGE, ""), (args, err)
        assert err.startswith(expected) and err.count("\n") == 1
    code, _, err = cli("verify", "resnet18", "--shard-by", "")
    assert code == X.USAGE and err == "freezekit: error: --shard-by and --optimizer go with --ddp N or --fsdp N\n"
