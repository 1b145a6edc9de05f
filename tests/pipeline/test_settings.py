"""Settings: one merge of a config and the caller's values, each default decided once (no torch)."""

from pathlib import Path

from freezekit.core.batchnorm_policy import BatchNormPolicy
from freezekit.core.config import load_config
from freezekit.core.expectations import Expectations
from freezekit.core.plan import Default
from freezekit.core.rules import Rule
from freezekit.pipeline.settings import Request, Settings, build_settings, resolve_source
from freezekit.sources.registry import parse_source
from freezekit.sources.spec import SourceKind, SourceOptions

CONFIG = """model: {factory: "models.py:build", args: {depth: 4, width: 8}}
weights_file: w.pt
default: frozen
batchnorm: eval
rules:
  - unfreeze: "head"
expect:
  trainable: 10
  total: 99
"""


def _config(tmp_path: Path):
    (tmp_path / "c.yaml").write_text(CONFIG)
    (tmp_path / "w.pt").write_bytes(b"x")
    return load_config(tmp_path / "c.yaml")


def test_the_config_model_keeps_its_args_and_resolves_against_its_folder(tmp_path):
    config = _config(tmp_path)
    source = resolve_source(config, None, SourceOptions(args={"depth": 5}))
    assert (source.kind, source.ref, source.attr) == (SourceKind.FILE_FACTORY, str(tmp_path / "models.py"), "build")
    assert source.args == {"depth": 5, "width": 8}  # --arg wins, the config's others stay
    assert source.weights_file == str(tmp_path / "w.pt") and source.weights is None
    same = resolve_source(config, str(tmp_path / "models.py") + ":build")
    assert same.args == {"depth": 4, "width": 8}  # MODEL names the config's model: its args stay
    other = resolve_source(config, "vgg16", SourceOptions(weights="DEFAULT"))
    assert (other.kind, other.args, other.weights) == (SourceKind.TORCHVISION, {}, "DEFAULT")


def test_command_line_values_win_and_rules_come_after_the_config_s(tmp_path):
    config = _config(tmp_path)
    request = Request(
        rules=(Rule("freeze", "head.0", "--pattern"),), default=Default.KEEP, expect=Expectations(total=100)
    )
    settings = build_settings(config, resolve_source(config, None), request)
    assert [r.pattern for r in settings.rules] == ["head", "head.0"]
    assert settings.default is Default.KEEP and settings.batchnorm is BatchNormPolicy.EVAL
    assert settings.expect == Expectations(trainable=10, total=100)
    assert settings.input_files() == (str(tmp_path / "w.pt"), str(tmp_path / "c.yaml"), str(tmp_path / "models.py"))
    from_config = build_settings(config, resolve_source(config, None))
    assert from_config.default is Default.FROZEN


def test_defaults_without_a_config():
    settings = build_settings(None, parse_source("vgg16"))
    assert settings.default is Default.TRAINABLE and settings.batchnorm is None and not settings.allow_unmatched
    assert settings.rules == () and settings.expect == Expectations() and settings.input_files() == ()


def test_materialize_is_decided_by_the_command_s_need_and_the_weights():
    plain = parse_source("vgg16")
    assert not Settings(source=plain).materialize
    assert Settings(source=plain, needs_values=True).materialize
    assert Settings(source=parse_source("vgg16", SourceOptions(weights="DEFAULT"))).materialize
    assert Settings(source=parse_source("vgg16", SourceOptions(weights_file="w.pt"))).materialize
