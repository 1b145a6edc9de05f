"""Exit codes live in one place (freezekit/errors.py); the README's summary and docs/cli.md list exactly those."""

import re
from pathlib import Path

import pytest

import freezekit.pipeline.commands
from freezekit.errors import ExitCode, FreezekitError

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("page", ["README.md", "docs/cli.md"])
def test_every_exit_code_is_documented(page):
    section = (ROOT / page).read_text().split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(n) for n in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}
    assert documented == {int(c) for c in ExitCode}


def test_every_error_class_maps_to_a_distinct_code():
    classes = FreezekitError.__subclasses__() + [c for s in FreezekitError.__subclasses__() for c in s.__subclasses__()]
    codes = [c.exit_code for c in classes]
    assert len(codes) == len(set(codes)) and ExitCode.OK not in codes and ExitCode.INTERNAL not in codes


def test_a_bug_keeps_its_traceback_and_exits_1(cli, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(freezekit.pipeline.commands, "run_audit", broken)
    with pytest.raises(ZeroDivisionError):  # not swallowed into a one-line "error"
        cli("count", "vgg16")


def test_a_bug_exits_1_through_the_console_script():
    """The console script leaves through os._exit in an atexit handler: a bug escaping the app must
    still exit 1, not the 0 of a run that never set its status (a pipeline would read it as a pass)."""
    import subprocess
    import sys

    code = "from freezekit.cli import console\ndef bug(): raise ZeroDivisionError('a bug')\nconsole.app = bug\nconsole.main()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "ZeroDivisionError: a bug" in done.stderr


def test_debug_switch_shows_the_traceback_of_a_user_error(monkeypatch):
    from typer.testing import CliRunner

    from freezekit.cli.app import app

    monkeypatch.setenv("FREEZEKIT_DEBUG", "1")
    result = CliRunner().invoke(app, ["count", "vgg61"])
    assert type(result.exception).__name__ == "ModelError"
