import signal
from pathlib import Path

import pytest


def pytest_configure(config):
    """Signals start at their defaults, whoever started pytest. A pipeline step run with `&` (or by a
    CI runner that ignores SIGINT) hands pytest SIGINT ignored; an ignored signal stays ignored across
    exec, so the children the signal tests start would never see the SIGINT they are sent. A handled
    signal resets to its default at exec, so restoring Python's handlers here covers the children too."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden files (tests/**/golden/) from what the code renders now",
    )


@pytest.fixture
def golden(request):
    """check(path, text): `text` must equal the golden file; `pytest --update-golden` rewrites the file instead."""
    update = request.config.getoption("--update-golden")

    def check(path: Path, text: str) -> None:
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.is_file(), f"{path} is missing: run 'python -m pytest --update-golden' and review the diff"
        assert text == path.read_text(encoding="utf-8"), f"{path.name} changed; if on purpose: pytest --update-golden"

    return check


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """No test reads the user's caches or weights, and output is stable."""
    home = tmp_path_factory.getbasetemp() / "torch_home_empty"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setenv("FREEZEKIT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "fk_cache"))
    monkeypatch.setenv("FREEZEKIT_OFFLINE", "1")  # never try to download weights
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("FREEZEKIT_DEBUG", raising=False)
    yield


@pytest.fixture
def cli():
    """Run the CLI in-process; returns a callable giving (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from freezekit.cli.app import app

    runner = CliRunner()

    def run(*args, **kwargs):
        result = runner.invoke(app, [str(a) for a in args], **kwargs)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return run
