import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from freezekit.core.records import Inventory, ParamRecord
from freezekit.sources import inventory_cache
from freezekit.sources.registry import parse_source
from freezekit.sources.spec import SourceOptions

ROOT = Path(__file__).parents[2]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FREEZEKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize(
    "args",
    [
        ["count", "vgg16", "-p", "features.*", "--depth", "1"],
        ["freeze", "resnet50", "-p", "through:layer3", "--batchnorm", "eval"],
        [
            "freeze",
            "vit_b_16",
            "--default",
            "frozen",
            "-u",
            "heads",
            "-u",
            "re:encoder\\.layers\\.encoder_layer_11\\..*",
        ],
        ["freeze", "regnet_x_400mf", "-p", "type:_BatchNorm", "--only", "frozen"],
        ["count", "fasterrcnn_mobilenet_v3_large_320_fpn", "-p", "backbone"],
        ["freeze", f"{ROOT / 'tests' / 'models_for_tests.py'}:build_tied", "--arg", "vocab=16", "-p", "head"],
    ],
)
def test_warm_report_is_identical_to_cold(cli, cache, args):
    cold = cli(*args, "-f", "json", "--no-cache")
    assert cold[0] == 0, cold[2]
    assert not cache.exists()  # --no-cache neither reads nor writes
    first = cli(*args, "-f", "json")
    warm = cli(*args, "-f", "json")
    assert len(list(cache.glob("inv-*.json"))) == 1
    assert cold == first == warm


def imported_torch(importtime_log: str) -> bool:
    """Whether `python -X importtime` logged an import of torch itself."""
    return any(line.rsplit("|", 1)[-1].strip() == "torch" for line in importtime_log.splitlines())


def test_warm_count_does_not_import_torch(cache):
    env = {**os.environ, "FREEZEKIT_CACHE_DIR": str(cache)}
    argv = [sys.executable, "-X", "importtime", "-m", "freezekit", "count", "vgg16", "-f", "json"]
    cold = subprocess.run(argv, capture_output=True, text=True, env=env)
    warm = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert cold.returncode == warm.returncode == 0
    assert imported_torch(cold.stderr) and not imported_torch(warm.stderr)
    assert json.loads(warm.stdout) == json.loads(cold.stdout)
    assert json.loads(warm.stdout)["totals"]["total"] == 138357544


def test_version_change_misses(cache, monkeypatch):
    spec = parse_source("vgg16")
    key = inventory_cache.cache_key(spec)
    monkeypatch.setattr(
        inventory_cache, "versions", lambda: {"freezekit": "0.1.0", "torch": "9.9", "torchvision": "0.29.1"}
    )
    assert inventory_cache.cache_key(spec) != key
    assert inventory_cache.cache_key(
        parse_source("vgg16", SourceOptions(args={"num_classes": 10}))
    ) != inventory_cache.cache_key(spec)


def test_what_is_never_cached(tmp_path, cache):
    assert inventory_cache.cache_key(parse_source("torchvision.models:vgg16")) is None
    assert inventory_cache.cache_key(parse_source(str(tmp_path / "model.safetensors"))) is None
    factory = tmp_path / "m.py"
    factory.write_text("def build(): pass\n")
    key = inventory_cache.cache_key(parse_source(f"{factory}:build"))
    factory.write_text("def build(): return 1\n")
    assert inventory_cache.cache_key(parse_source(f"{factory}:build")) not in (None, key)


def test_damaged_cache_file_is_rebuilt(cli, cache):
    assert cli("count", "resnet18", "-f", "json")[0] == 0
    (path,) = cache.glob("inv-*.json")
    path.write_text('{"format": "freezekit.inventory-cache", "params": [[')
    code, out, err = cli("count", "resnet18", "-f", "json")
    assert code == 0 and err == "" and json.loads(out)["totals"]["total"] == 11689512
    assert json.loads(path.read_text())["format_version"] == 3


def test_concurrent_writers_never_corrupt(cache):
    inv = Inventory(
        tuple(ParamRecord(f"layer{i}.weight", (i + 1, 3), "float32", f"layer{i}", "Linear") for i in range(2000)),
        has_modules=False,
        source="x",
    )
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: inventory_cache.put("k" * 64, inv), range(32)))
    assert inventory_cache.get("k" * 64) == inv
    assert [p.name for p in cache.iterdir()] == ["inv-" + "k" * 64 + ".json"]


def test_cache_clear_and_path(cli, cache):
    cli("count", "resnet18")
    code, out, _ = cli("cache", "path")
    assert out.strip() == str(cache)
    code, out, _ = cli("cache", "clear")
    assert code == 0 and out.startswith("removed 1 cached inventories")
    assert list(cache.iterdir()) == []
