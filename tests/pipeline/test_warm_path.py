"""The warm path: a repeated audit is answered from the inventory cache without importing torch."""

import os
import subprocess
import sys

RUN = (
    "import sys\n"
    "from typer.testing import CliRunner\n"
    "from freezekit.cli.app import app\n"
    "r = CliRunner().invoke(app, ['count', 'vgg16', '-p', 'features.*', {fmt}])\n"
    "assert r.exit_code == 0, r.output\n"
    "print(r.stdout.count('14,714,688') + r.stdout.count('14714688'), 'torch' in sys.modules)"
)


def fresh(code: str, cache) -> str:
    env = {**os.environ, "FREEZEKIT_CACHE_DIR": str(cache)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout


def test_a_cached_inventory_answers_without_torch(tmp_path):
    assert fresh(RUN.format(fmt="'-f', 'json'"), tmp_path).split() == ["1", "True"]  # cold: builds, caches
    assert fresh(RUN.format(fmt="'-f', 'json'"), tmp_path).split() == ["1", "False"]
    assert fresh(RUN.format(fmt="'-f', 'table'"), tmp_path).split() == ["1", "False"]
