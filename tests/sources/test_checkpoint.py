"""Checkpoint files given as MODEL: safetensors headers, sharded indexes, pickled state_dicts.

Every file is made here, in tmp_path; nothing is downloaded.
"""

from __future__ import annotations

import json
import pathlib
import pickle
import struct
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file
from torch import nn

from freezekit.errors import ExitCode, UnsafePickleError, WeightsError
from freezekit.sources import safetensors_header
from freezekit.sources.checkpoint import is_buffer, read_checkpoint_inventory
from freezekit.sources.registry import parse_source
from freezekit.sources.safetensors_header import read_header
from freezekit.sources.spec import SourceOptions
from tests.models_for_tests import TiedNet


def inventory(path, trust_pickle=False):
    return read_checkpoint_inventory(parse_source(str(path), SourceOptions(trust_pickle=trust_pickle)))


def small_model() -> nn.Module:
    """conv 3*8*3*3+8=224, bn 8+8=16, linear 8*10+10=90: 330 parameters; bn buffers 8+8+1."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.Linear(8, 10))


def write_safetensors(path, header, data_size: int | None = None) -> pathlib.Path:
    """A safetensors file from a header (dict or raw bytes); the data part is sparse zeros."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    if data_size is None:
        ends = (
            [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"] if isinstance(header, dict) else []
        )
        data_size = max(ends, default=0)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + data_size)
    return pathlib.Path(path)


def expect_weights_error(path, fragment: str, error=WeightsError) -> str:
    with pytest.raises(error) as info:
        inventory(path)
    message = str(info.value)
    assert fragment in message and str(path) in message
    assert "\n" not in message
    return message


# -- safetensors ---------------------------------------------------------------


def test_safetensors_file_matches_the_model(tmp_path):
    model = small_model()
    state = model.state_dict()
    state["3.weight"] = state["3.weight"].to(torch.bfloat16)
    save_file(state, tmp_path / "m.safetensors", metadata={"format": "pt"})
    inv = inventory(tmp_path / "m.safetensors")
    assert not inv.has_modules and inv.source == str(tmp_path / "m.safetensors")
    assert [(p.name, p.shape, p.dtype, p.module, p.module_type) for p in inv.params] == [
        ("0.bias", (8,), "float32", "0", ""),
        ("0.weight", (8, 3, 3, 3), "float32", "0", ""),
        ("1.bias", (8,), "float32", "1", ""),
        ("1.weight", (8,), "float32", "1", ""),
        ("3.bias", (10,), "float32", "3", ""),
        ("3.weight", (10, 8), "bfloat16", "3", ""),
    ]
    assert sum(p.numel for p in inv.params) == 330 == sum(p.numel() for p in model.parameters())
    assert sum(p.nbytes for p in inv.params) == 250 * 4 + 80 * 2
    assert [(b.name, b.shape, b.dtype) for b in inv.buffers] == [
        ("1.num_batches_tracked", (), "int64"),
        ("1.running_mean", (8,), "float32"),
        ("1.running_var", (8,), "float32"),
    ]
    assert read_header(tmp_path / "m.safetensors").metadata == {"format": "pt"}  # read, though not reported


def test_names_sort_naturally(tmp_path):
    header = {f"layers.{i}.w": {"dtype": "F16", "shape": [2], "data_offsets": [4 * i, 4 * i + 4]} for i in (10, 2, 1)}
    assert [p.name for p in inventory(write_safetensors(tmp_path / "n.safetensors", header)).params] == [
        "layers.1.w",
        "layers.2.w",
        "layers.10.w",
    ]


def test_every_dtype_maps_to_a_sized_short_name(tmp_path):
    from freezekit.core.records import DTYPE_BYTES

    assert all(name in DTYPE_BYTES for name in safetensors_header.DTYPES.values())
    header, offset = {}, 0
    for i, code in enumerate(safetensors_header.DTYPES):
        size = 3 * DTYPE_BYTES[safetensors_header.DTYPES[code]]
        shape = [6] if code == "F4" else [3]  # F4 counts 4-bit values: 6 of them are 3 float4_e2m1fn_x2 bytes
        header[f"t{i}"] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    got = {t.name: t.dtype for t in read_header(write_safetensors(tmp_path / "d.safetensors", header)).tensors}
    assert got["t13"] == "float8_e4m3fn" and got["t14"] == "float8_e5m2" and got["t15"] == "complex64"
    assert list(got.values()) == list(safetensors_header.DTYPES.values())


SEVEN_B_LAYERS = 32  # each: a [5000, 43750] bf16 weight (218,750,000) and a [5000] f32 norm


def write_seven_billion(path) -> pathlib.Path:
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for i in range(SEVEN_B_LAYERS):
        for name, dtype, shape, size in (
            (f"layers.{i}.mlp.weight", "BF16", [5000, 43750], 5000 * 43750 * 2),
            (f"layers.{i}.norm.weight", "F32", [5000], 5000 * 4),
        ):
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
            offset += size
    return write_safetensors(path, header)


@pytest.mark.skipif(not pathlib.Path("/proc/self/status").exists(), reason="peak memory read from /proc")
def test_seven_billion_sparse_file_reads_only_the_header_without_torch(tmp_path):
    path = write_seven_billion(tmp_path / "big.safetensors")
    assert path.stat().st_size > 14_000_000_000  # sparse: the disk holds only the header
    code = f"""
import json, sys
from freezekit.sources.checkpoint import read_checkpoint_inventory
from freezekit.sources.registry import parse_source
def rchar():  # bytes this process has read through read() calls
    return int(next(line.split()[1] for line in open('/proc/self/io') if line.startswith('rchar:')))
read_checkpoint_inventory(parse_source({str(path)!r}))  # first, the lazy imports (they read package metadata)
before = rchar()
inv = read_checkpoint_inventory(parse_source({str(path)!r}))
read_bytes = rchar() - before
# VmHWM, not getrusage: ru_maxrss keeps the forking pytest's size across exec
peak_kib = int(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')))
from typer.testing import CliRunner
from freezekit.cli.app import app
r = CliRunner().invoke(app, ['count', {str(path)!r}, '-p', 'layers.0.*', '-f', 'json'])
assert r.exit_code == 0, r.output
totals = json.loads(r.stdout)['totals']
print(sum(p.numel for p in inv.params), totals['total'], totals['frozen'], 'torch' in sys.modules,
      read_bytes < 1 << 20, peak_kib < 100 * 1024)  # the header only, not 14 GB (speed: benchmarks/)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["7000160000", "7000160000", "218755000", "False", "True", "True"]


def test_sharded_index(tmp_path):
    save_file({"a.weight": torch.zeros(4, 3), "a.bias": torch.zeros(4)}, tmp_path / "model-00001-of-00002.safetensors")
    save_file(
        {"b.weight": torch.zeros(2, 4, dtype=torch.float16), "b.ids": torch.zeros(5, dtype=torch.int64)},
        tmp_path / "model-00002-of-00002.safetensors",
    )
    weight_map = {
        "a.bias": "model-00001-of-00002.safetensors",
        "a.weight": "model-00001-of-00002.safetensors",
        "b.ids": "model-00002-of-00002.safetensors",
        "b.weight": "model-00002-of-00002.safetensors",
    }
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": 104}, "weight_map": weight_map}))
    inv = inventory(index)
    assert [(p.name, p.shape, p.dtype) for p in inv.params] == [
        ("a.bias", (4,), "float32"),
        ("a.weight", (4, 3), "float32"),
        ("b.weight", (2, 4), "float16"),
    ]
    assert [(b.name, b.dtype) for b in inv.buffers] == [("b.ids", "int64")]
    assert sum(p.numel for p in inv.params) == 24

    index.write_text(json.dumps({"weight_map": {**weight_map, "c.weight": "model-00003-of-00003.safetensors"}}))
    expect_weights_error(index, "shard 'model-00003-of-00003.safetensors' is missing")
    index.write_text(json.dumps({"weight_map": {**weight_map, "c.weight": "model-00001-of-00002.safetensors"}}))
    expect_weights_error(index, "puts tensor 'c.weight' in shard 'model-00001-of-00002.safetensors'")
    index.write_text(json.dumps({"metadata": {}}))
    expect_weights_error(index, 'needs a "weight_map" object')
    index.write_text("{")
    expect_weights_error(index, "not valid JSON")


def test_index_size_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(safetensors_header, "MAX_INDEX_BYTES", 10)
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {}}))
    expect_weights_error(index, "over the 0 MiB limit")


F32x2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
BAD_HEADERS = [
    # (raw file bytes or header, data bytes, message fragment)
    (b"", None, "file is empty"),
    (b"\x01\x00\x00", None, "only 3 bytes, too short"),
    (struct.pack("<Q", 200 * 2**20) + b"{}", None, "over the 100 MiB limit"),
    (struct.pack("<Q", 1000) + b"{}", None, "runs past the end of the 10-byte file"),
    (b"\xff\xfe{}", 0, "not UTF-8"),
    (b"{nope", 0, "not valid JSON"),
    (b'{"a": 1, "a": 2}', 0, "duplicate key 'a'"),
    (b"[]", 0, "is a JSON list, not an object"),
    ({"a": 3}, 0, "tensor 'a': expected an object"),
    ({"a": {"dtype": "F32", "shape": [2]}}, 8, "tensor 'a': missing 'data_offsets'"),
    ({"a": {**F32x2, "dtype": "F17"}}, 8, "tensor 'a': unknown dtype 'F17'"),
    ({"a": {**F32x2, "shape": [-2]}}, 8, "shape must be a list of non-negative integers"),
    ({"a": {**F32x2, "shape": [2.0]}}, 8, "shape must be a list of non-negative integers"),
    ({"a": {**F32x2, "shape": [True, 2]}}, 8, "shape must be a list of non-negative integers"),
    ({"a": {**F32x2, "shape": 2}}, 8, "shape must be a list of non-negative integers"),
    ({"a": {**F32x2, "data_offsets": [0]}}, 8, "data_offsets must be [begin, end]"),
    ({"a": {**F32x2, "data_offsets": [-8, 0]}}, 8, "data_offsets must be [begin, end]"),
    ({"a": {**F32x2, "data_offsets": [8, 0]}}, 8, "end 0 is before begin 8"),
    ({"a": {**F32x2, "data_offsets": [0, 12]}}, 12, "span 12 bytes but F32 [2] needs 8"),
    ({"a": F32x2}, 4, "data ends at byte 8 but the file holds only 4 bytes of data"),
    ({"a": F32x2, "b": {**F32x2, "data_offsets": [4, 12]}}, 12, "tensors 'a' and 'b' overlap"),
    ({"__metadata__": {"format": 1}, "a": F32x2}, 8, "__metadata__ must be an object of string values"),
]


@pytest.mark.parametrize("content, data_size, fragment", BAD_HEADERS, ids=[c[2] for c in BAD_HEADERS])
def test_damaged_safetensors_headers_are_weights_errors(tmp_path, content, data_size, fragment):
    path = tmp_path / "bad.safetensors"
    if data_size is None:
        path.write_bytes(content)
    else:
        write_safetensors(path, content, data_size)
    expect_weights_error(path, fragment)


def test_tensor_count_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(safetensors_header, "MAX_TENSORS", 2)
    header = {n: {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]} for i, n in enumerate("abc")}
    expect_weights_error(
        write_safetensors(tmp_path / "many.safetensors", header), "declares 3 tensors, over the limit of 2"
    )


def test_missing_files(tmp_path):
    for name in ("gone.safetensors", "gone.safetensors.index.json", "gone.pt"):
        expect_weights_error(tmp_path / name, "no such file")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_either_parse_or_raise_weights_error(tmp_path_factory, junk):
    path = tmp_path_factory.mktemp("fuzz") / "f.safetensors"
    path.write_bytes(struct.pack("<Q", len(junk)) + junk)
    try:
        read_header(path)
    except WeightsError:
        pass


# -- pickled state_dicts -------------------------------------------------------


def test_state_dict_pt_file(tmp_path):
    model = small_model()
    torch.save(model.state_dict(), tmp_path / "m.pt")
    inv = inventory(tmp_path / "m.pt")
    assert not inv.has_modules
    assert [(p.name, p.shape, p.dtype, p.module) for p in inv.params] == [
        (n, tuple(p.shape), "float32", n.rpartition(".")[0]) for n, p in model.named_parameters()
    ]
    assert [b.name for b in inv.buffers] == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert sum(p.numel for p in inv.params) == 330


def test_legacy_non_zip_pt_file(tmp_path):
    torch.save(small_model().state_dict(), tmp_path / "old.pth", _use_new_zipfile_serialization=False)
    assert sum(p.numel for p in inventory(tmp_path / "old.pth").params) == 330


def test_tied_weights_in_a_state_dict_count_once(tmp_path):
    torch.save(TiedNet().state_dict(), tmp_path / "tied.bin")
    inv = inventory(tmp_path / "tied.bin")
    embed = next(p for p in inv.params if p.name == "embed.weight")
    assert embed.aliases == ("head.weight",)
    assert sum(p.numel for p in inv.params) == 60


def test_lightning_style_nesting_is_unwrapped(tmp_path):
    state = {f"model.{k}": v for k, v in small_model().state_dict().items()}
    torch.save({"epoch": 3, "global_step": 120, "state_dict": state, "optimizer_states": [{}]}, tmp_path / "last.ckpt")
    inv = inventory(tmp_path / "last.ckpt")
    assert sum(p.numel for p in inv.params) == 330 and inv.params[0].name == "model.0.weight"


def test_a_file_without_tensors_is_a_weights_error(tmp_path):
    torch.save({"epoch": 3}, tmp_path / "meta.pt")
    expect_weights_error(tmp_path / "meta.pt", "holds a dict with no tensors (keys: 'epoch')")
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    expect_weights_error(tmp_path / "list.pt", "holds a list, not a state_dict")


def test_whole_pickled_model_needs_trust(tmp_path):
    torch.save(TiedNet(), tmp_path / "whole.pt")
    message = expect_weights_error(tmp_path / "whole.pt", "would run code from it", UnsafePickleError)
    assert "TiedNet" in message and "--trust-pickle" in message
    inv = inventory(tmp_path / "whole.pt", trust_pickle=True)
    assert inv.has_modules and sum(p.numel for p in inv.params) == 60
    assert {m.type for m in inv.modules} >= {"TiedNet", "Linear", "BatchNorm1d"}


class Malicious:
    marker: pathlib.Path

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def write_malicious(tmp_path, how: str) -> tuple[pathlib.Path, pathlib.Path]:
    marker = tmp_path / "pwned"
    path = tmp_path / f"evil-{how}.pt"
    payload = {"weight": torch.zeros(2), "boom": Malicious(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    elif how == "legacy":
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:
        with open(path, "wb") as f:
            pickle.dump(Malicious(marker), f, protocol=int(how.removeprefix("pickle")))
    return path, marker


@pytest.mark.parametrize("how", ["torch.save", "legacy", "pickle2", "pickle4", "pickle5"])
def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path, how):
    path, marker = write_malicious(tmp_path, how)
    expect_weights_error(path, "would run code from it", UnsafePickleError)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["empty", "random", "truncated", "foreign zip"])
def test_damaged_pt_files_are_weights_errors_not_unsafe(tmp_path, kind):
    import zipfile

    path = tmp_path / "bad.pt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(bytes((i * 37 + 11) % 256 for i in range(4000)))
    elif kind == "truncated":
        torch.save(small_model().state_dict(), path)
        path.write_bytes(path.read_bytes()[:600])
    else:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("notes.txt", "not a checkpoint")
    with pytest.raises(WeightsError) as info:
        inventory(path)
    assert type(info.value) is WeightsError and str(path) in str(info.value) and "\n" not in str(info.value)


def test_buffer_rule():
    assert is_buffer("bn.running_mean", "float32") and is_buffer("num_batches_tracked", "int64")
    assert is_buffer("embeddings.position_ids", "int64") and is_buffer("mask", "bool")
    assert (
        not is_buffer("bn.weight", "float32") and not is_buffer("w", "bfloat16") and not is_buffer("w", "float8_e5m2")
    )
    assert not is_buffer("my_running_mean", "float32")


# -- through the CLI -----------------------------------------------------------


def totals_of(cli, *args):
    code, out, err = cli("count", *args, "-f", "json")
    assert code == 0, err
    return json.loads(out)["totals"]


def test_cli_counts_checkpoints_exactly(cli, tmp_path):
    model = small_model()
    save_file(model.state_dict(), tmp_path / "m.safetensors")
    torch.save(model.state_dict(), tmp_path / "m.pt")
    for path in (tmp_path / "m.safetensors", tmp_path / "m.pt"):
        totals = totals_of(cli, path, "-p", "0.*")
        assert (totals["total"], totals["frozen"], totals["trainable"]) == (330, 224, 106)
        code, out, _ = cli("count", path, "-f", "json")
        assert json.loads(out)["buffers"] == {"tensors": 3, "numel": 17}


def test_cli_type_rules_need_modules(cli, tmp_path):
    save_file(small_model().state_dict(), tmp_path / "m.safetensors")
    code, out, err = cli("count", tmp_path / "m.safetensors", "-p", "type:Linear")
    assert code == ExitCode.RULE == 7 and out == ""
    assert "need module information" in err and len(err.strip().splitlines()) == 1


def test_cli_trusted_whole_model_allows_type_rules(cli, tmp_path):
    torch.save(TiedNet(), tmp_path / "whole.pt")
    code, _, err = cli("count", tmp_path / "whole.pt", "-p", "type:Linear")
    assert code == ExitCode.UNSAFE_PICKLE
    totals = totals_of(cli, tmp_path / "whole.pt", "-p", "type:Linear", "--trust-pickle")
    assert (totals["total"], totals["frozen"]) == (60, 20 + 32)  # body.0 (20) and the head tied to embed (32)


def test_cli_malicious_pickle_exits_6(cli, tmp_path):
    path, marker = write_malicious(tmp_path, "torch.save")
    code, out, err = cli("count", path)
    assert code == ExitCode.UNSAFE_PICKLE == 6 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--trust-pickle" in err and "Traceback" not in err
    assert not marker.exists()


def test_cli_damaged_safetensors_exits_5(cli, tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 3)
    code, out, err = cli("count", tmp_path / "bad.safetensors")
    assert code == ExitCode.WEIGHTS == 5 and out == ""
    assert (
        err.strip()
        == f"freezekit: error: {tmp_path / 'bad.safetensors'}: file is only 3 bytes, too short to be a safetensors file"
    )


# -- the shared torch-side loader ----------------------------------------------


def test_loader_returns_real_tensors_from_both_formats(tmp_path):
    from freezekit.adapter.state_dict_files import load_state_dict_file

    state = small_model().state_dict()
    save_file(state, tmp_path / "m.safetensors")
    torch.save({"model_state_dict": state, "epoch": 1}, tmp_path / "m.pth")
    for name in ("m.safetensors", "m.pth"):
        loaded = load_state_dict_file(tmp_path / name)
        assert list(loaded) == list(state) or sorted(loaded) == sorted(state)
        assert all(torch.equal(loaded[k], v) for k, v in state.items())
    bad = write_safetensors(tmp_path / "bad.safetensors", {"a": F32x2}, 4)
    with pytest.raises(WeightsError, match="data ends at byte 8"):
        load_state_dict_file(bad)


def test_a_long_shard_path_from_an_index_is_cut_in_the_error(cli, tmp_path):
    """Issue 20, class 13: a 3,013-character shard name made a 6,000-character error line; paths are cut
    like quoted values (errors.shortened_path keeps both ends: the file's name stays visible)."""
    from freezekit.errors import MAX_QUOTED_PATH, shortened_path

    shard = "d/" * 1500 + "x.safetensors"
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": {"a.weight": shard}}))
    code, out, err = cli("count", index)
    looked_for = shortened_path(tmp_path / shard)
    assert (code, out) == (5, "")
    assert err.splitlines() == [
        f"freezekit: error: {index}: shard {repr(shard)[:80]}\u2026 (3,013 characters) is missing "
        f"(looked for {looked_for})"
    ]
    assert looked_for.endswith("d/d/x.safetensors (" + f"{len(str(tmp_path / shard)):,} characters)")
    assert (
        len(looked_for) == MAX_QUOTED_PATH + 1 + len(f" ({len(str(tmp_path / shard)):,} characters)") and len(err) < 600
    )
    assert shortened_path("/a/short/path\x1b") == r"/a/short/path\x1b"
