"""diff on hand-made checkpoints: every status, bf16/fp8/NaN/-0.0 by bytes, shardings, hostile files."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from freezekit.compare.diff import diff_files
from freezekit.compare.tensor_files import open_checkpoint
from freezekit.errors import ExitCode as X

ROOT = Path(__file__).resolve().parents[2]

BEFORE = {
    "enc.w": torch.arange(12, dtype=torch.float32).reshape(3, 4),
    "enc.b": torch.zeros(4),
    "nan": torch.tensor([float("nan"), 1.0]),
    "zero": torch.tensor([0.0, 2.0]),
    "half": torch.tensor([1.0, 2.0, 3.0]).bfloat16(),
    "f8": torch.tensor([0.5, 1.0]).to(torch.float8_e4m3fn),
    "steps": torch.arange(5),
    "gone": torch.ones(2),
    "grow": torch.ones(2),
    "cast": torch.ones(2),
}


def _after() -> dict:
    after = dict(BEFORE)
    after["enc.w"] = BEFORE["enc.w"] + torch.tensor([0.0, 0.0, 0.0, 0.5])  # max abs diff 0.5
    after["zero"] = torch.tensor([-0.0, 2.0])  # other bytes, equal values
    after["half"] = torch.tensor([1.0, 2.0, 3.5]).bfloat16()
    after["f8"] = torch.tensor([0.5, 2.0]).to(torch.float8_e4m3fn)
    after["steps"] = torch.tensor([0, 1, 2, 3, 7])
    after["grow"] = torch.ones(3)
    after["cast"] = torch.ones(2, dtype=torch.float16)
    after["new"] = torch.ones(1)
    del after["gone"]
    return after


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("diff")
    save_file(BEFORE, d / "before.safetensors")
    after = _after()
    torch.save(after, d / "after.pt")
    names = list(after)  # the same state as two shards and an index
    save_file({n: after[n] for n in names[:4]}, d / "s1.safetensors")
    save_file({n: after[n] for n in names[4:]}, d / "s2.safetensors")
    weight_map = {n: "s1.safetensors" if i < 4 else "s2.safetensors" for i, n in enumerate(names)}
    (d / "after.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    save_file(after, d / "after.safetensors")
    return d


def _rows(d, after):
    result = diff_files(open_checkpoint(str(d / "before.safetensors")), open_checkpoint(str(d / after)))
    return {t.name: t for t in result.tensors}, result.totals


def test_every_status_by_bytes_and_the_differences(files):
    rows, totals = _rows(files, "after.safetensors")
    assert {n: r.status.value for n, r in rows.items()} == {
        "enc.w": "changed",
        "enc.b": "unchanged",
        "nan": "unchanged",
        "zero": "changed",
        "half": "changed",
        "f8": "changed",
        "steps": "changed",
        "gone": "removed",
        "grow": "reshaped",
        "cast": "retyped",
        "new": "added",
    }
    assert rows["enc.w"].max_abs_diff == 0.5
    assert rows["enc.w"].rel_change == pytest.approx(
        0.5 * math.sqrt(3) / math.sqrt(sum(i * i for i in range(12)))
    )  # 3 values moved
    assert (rows["zero"].max_abs_diff, rows["zero"].rel_change) == (0.0, 0.0)  # -0.0: bytes differ, values equal
    assert rows["half"].max_abs_diff == 0.5 and rows["f8"].max_abs_diff == 1.0 and rows["steps"].max_abs_diff == 3
    assert (rows["grow"].shape, rows["cast"].dtype) == ("2 -> 3", "float32 -> float16")
    assert (totals.tensors, totals.changed, totals.unchanged, totals.changed_numel, totals.unchanged_numel) == (
        11,
        5,
        2,
        12 + 2 + 3 + 2 + 5 + 3 + 2 + 1,
        4 + 2,
    )


@pytest.mark.parametrize("after", ["after.pt", "after.safetensors.index.json"])
def test_a_pickle_or_another_sharding_of_the_same_state_compares_the_same(files, after):
    assert _rows(files, after) == _rows(files, "after.safetensors")


def test_the_same_file_twice_is_all_unchanged(cli, files):
    code, out, err = cli("diff", files / "after.pt", files / "after.pt", "-f", "json")
    totals = json.loads(out)["totals"]
    assert (code, err, totals["unchanged"], totals["changed"]) == (0, "", 10, 0)


def test_rules_mark_tensors_frozen_and_a_frozen_change_is_exit_11(cli, files):
    code, out, err = cli("diff", files / "before.safetensors", files / "after.pt", "-p", "enc.*", "-f", "csv")
    assert code == X.DRIFT
    lines = out.splitlines()
    rows = _rows(files, "after.pt")[0]  # CSV carries the exact numbers (repr), not the table's 4 digits
    assert lines[0] == "name,status,frozen,max_abs_diff,rel_change,dtype,shape"
    assert {
        f"enc.w,changed,frozen,0.5,{rows['enc.w'].rel_change!r},float32,3x4",
        "enc.b,unchanged,frozen,,,float32,4",
        f"steps,changed,,3.0,{rows['steps'].rel_change!r},int64,5",
        "zero,changed,trainable,0.0,0.0,float32,2",
    } <= set(lines)
    assert err == (
        "freezekit: warning: 1 trainable tensor(s) did not change at all (left out of the optimizer?): nan\n"
        "freezekit: error: 1 frozen tensor(s) changed: enc.w\n"
    )


def test_depth_aggregates_per_module(cli, files):
    code, out, _ = cli("diff", files / "before.safetensors", files / "after.safetensors", "--depth", "1", "-f", "json")
    modules = {m["module"]: m for m in json.loads(out)["modules"]}
    assert (code, modules["enc"]["changed_numel"], modules["enc"]["unchanged_numel"]) == (0, 12, 4)


def test_a_tensor_past_the_end_of_its_file_is_exit_5(cli, tmp_path):
    save_file({"w": torch.ones(1000)}, tmp_path / "a.safetensors")
    data = (tmp_path / "a.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-8])
    code, out, err = cli("diff", tmp_path / "a.safetensors", tmp_path / "cut.safetensors")
    assert (code, out) == (X.WEIGHTS, "") and "holds only 3992 bytes of data (truncated?)" in err


class Unknown:
    """A class weights_only=True refuses to rebuild."""


def test_a_pickle_is_refused_without_trust(cli, tmp_path):
    torch.save({"w": torch.ones(2), "obj": Unknown()}, tmp_path / "evil.pt")
    save_file({"w": torch.ones(2)}, tmp_path / "a.safetensors")
    code, out, _ = cli("diff", tmp_path / "a.safetensors", tmp_path / "evil.pt")
    assert (code, out) == (X.UNSAFE_PICKLE, "")


def test_diff_of_safetensors_files_imports_no_torch(files):
    """Like count on a checkpoint: the torch import alone costs more than reading two 2 GB files."""
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom freezekit.cli.app import app\n"
        f"r = CliRunner().invoke(app, ['diff', {str(files / 'before.safetensors')!r}, "
        f"{str(files / 'after.safetensors')!r}, '-f', 'json'])\n"
        "print(r.exit_code, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.stdout == "0 False\n", done.stderr
