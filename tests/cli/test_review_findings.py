"""Hostile inputs found in the review of issues 9, 11 and 13: one line on stderr, a documented exit code."""
from __future__ import annotations

from freezekit.errors import ExitCode as X


def test_a_manifest_with_an_integer_too_long_to_parse_is_a_damaged_manifest(cli, tmp_path):
    path = tmp_path / "lock.json"
    path.write_text('{"schema": "freezekit.manifest", "schema_version": ' + "9" * 5000 + "}")
    code, out, err = cli("check", path)
    assert code == X.CONFIG and out == ""
    assert err.startswith(f"freezekit: error: {path}: not a JSON manifest: Exceeds the limit (4300 digits)")
    assert err.count("\n") == 1 and "Traceback" not in err
