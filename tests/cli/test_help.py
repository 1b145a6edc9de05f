"""--help a person can scan: options in panels of at most ten, a metavar that says what to type,
defaults shown one way, and the pinned Typer whose help_text.py switch these rely on."""

from collections import Counter
from importlib.metadata import version

import pytest
import typer

from freezekit.cli.app import app

PANELS = {
    "Model and source",
    "Rules",
    "Output",
    "Expectations",
    "Trust",
    "Distributed",
    "Memory plan",
    "Activations",
    "Training",
}
TYPER_OWN = {"help", "install_completion", "show_completion", "version"}  # flags Typer and the group add


def commands():
    root = typer.main.get_command(app)
    stack = [(root.name, root)]
    while stack:
        path, command = stack.pop()
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            stack.append((f"{path} {name}", sub))


def options(command):
    return [p for p in command.params if p.param_type_name == "option" and p.name not in TYPER_OWN]


@pytest.mark.parametrize("path,command", list(commands()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_option_sits_in_a_panel_of_at_most_ten(path, command):
    sizes = Counter(p.rich_help_panel for p in options(command))
    assert set(sizes) <= PANELS, (path, set(sizes) - PANELS)
    assert all(n <= 10 for n in sizes.values()), (path, sizes)


@pytest.mark.parametrize("path,command", list(commands()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_option_says_what_to_type(path, command):
    for param in options(command):
        if param.is_flag:
            continue
        assert param.metavar, (path, param.name)
        assert param.metavar != param.name.upper(), (path, param.name, param.metavar)


def test_count_help_in_panels(cli):
    code, out, _ = cli("count", "--help")
    assert code == 0
    for panel in PANELS - {"Training"}:  # count has every panel but verify's training step
        assert f"─ {panel} ─" in out
    assert "WORLD_SIZE" not in out and "SHARD_BY" not in out and "HF_CLASS" not in out


@pytest.mark.parametrize("command", ["freeze", "count", "verify", "check", "models"])
def test_defaults_are_shown_one_way(cli, command):
    """In the help text, '(default: X)'; never Typer's '[default: X]' as well."""
    _, out, _ = cli(command, "--help")
    assert "[default:" not in out
    assert "(default:" in out


def test_a_range_is_checked_by_its_callback(cli):
    code, _, err = cli("count", "resnet18", "--depth", "-1")
    assert code == 2
    assert err.startswith("freezekit: error: Invalid value for '--depth': -1 is below 0 (")
    code, _, err = cli("count", "resnet18", "--max-trainable-pct", "101")
    assert code == 2 and "101.0 is not between 0 and 100" in err


def test_typer_is_the_pinned_minor():
    """help_text.py switches Typer's parameter classes and rule_order.py re-parses with Click's parser:
    both are checked on Typer 0.29 only (pyproject.toml pins it). Moving the pin means re-running these."""
    assert version("typer").startswith("0.29.")
