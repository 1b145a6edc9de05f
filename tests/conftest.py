
import pytest


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
