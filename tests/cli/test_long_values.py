"""Long and odd values: a schema_version that is not an integer freezekit writes, huge values
echoed in errors (shortened), and a rank count that would fork without bound (manifest paths:
test_manifest_paths.py)."""

from __future__ import annotations

import json

import pytest

from freezekit.errors import ExitCode as X


@pytest.mark.parametrize("version", ["true", "1.0", '"1"'])
def test_schema_version_must_be_the_integer_1(cli, tmp_path, version):
    path = tmp_path / "lock.json"
    path.write_text('{"schema": "freezekit.manifest", "schema_version": ' + version + "}")
    code, out, err = cli("check", path)
    assert (code, out) == (X.CONFIG, "")
    assert err == (
        f"freezekit: error: {path}: manifest schema_version {json.loads(version)!r} is not supported "
        "(this freezekit reads 1 and 2)\n"
    )


def test_a_huge_config_value_is_shortened_in_the_error(cli, tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("model: resnet18\nexpect:\n  trainable: " + "9" * 5000 + "\n")
    code, out, err = cli("count", "-c", path)
    assert (code, out) == (X.CONFIG, "")
    assert err == (
        f"freezekit: error: {path}: expect.trainable (line 3): '{'9' * 79}… (5,000 characters) "
        "is not a valid int value\n"
    )


def test_a_huge_unknown_key_and_choice_are_shortened(cli, tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("model: resnet18\ndefault: " + "x" * 300 + "\n")
    code, _, err = cli("count", "-c", path)
    assert code == X.CONFIG and len(err) < 300, err
    assert f"not '{'x' * 79}… (300 characters)" in err
    path.write_text("model: resnet18\n? " + "k" * 3000 + "\n: 1\n")  # YAML needs '?' for keys over 1024 characters
    code, _, err = cli("count", "-c", path)
    assert code == X.CONFIG and len(err) < 450, err  # the path, the key twice (shortened) and the allowed keys
    assert f"unknown key '{'k' * 79}… (3,000 characters)" in err


def test_quoted_bounds_any_value():
    from freezekit.errors import quoted

    assert quoted("abc") == "'abc'"
    assert quoted(7) == "7"
    assert quoted("y" * 100) == "'" + "y" * 79 + "… (100 characters)"
    assert quoted(10**5000) == "an integer of 5,001 digits"


@pytest.mark.parametrize("flag", ["--ddp", "--fsdp"])
def test_too_many_cpu_ranks_are_refused_before_anything_forks(cli, flag):
    code, out, err = cli("verify", "resnet18", flag, "65")
    assert (code, out) == (X.USAGE, "")
    assert err == f"freezekit: error: {flag} 65: at most 64 ranks on CPU (each rank is a process with its own model)\n"
