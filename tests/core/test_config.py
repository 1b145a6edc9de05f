import pytest

from freezekit.core.config import ConfigModel, load_config
from freezekit.core.expectations import Expectations
from freezekit.errors import ConfigError
from freezekit.pipeline.settings import config_source
from freezekit.sources.spec import SourceKind


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_full_config(tmp_path):
    cfg = load_config(
        write(
            tmp_path,
            """
model: {factory: "my_models.py:build", args: {depth: 4}}
default: frozen
batchnorm: eval
weights_file: w/state.pt
rules:
  - unfreeze: "classifier.*"
  - freeze: ["re:classifier\\\\.6", "classifier.0"]
expect:
  trainable: 12
  max_trainable_pct: 5.5
""",
        )
    )
    assert cfg.model == ConfigModel("my_models.py:build", {"depth": 4})
    source = config_source(cfg)  # a file named by a config is relative to the config's folder
    assert (source.kind, source.text, source.ref, source.attr, source.args) == (
        SourceKind.FILE_FACTORY,
        str(tmp_path / "my_models.py") + ":build",
        str(tmp_path / "my_models.py"),
        "build",
        {"depth": 4},
    )
    assert cfg.default == "frozen" and cfg.batchnorm == "eval"
    assert cfg.weights_file == str(tmp_path / "w/state.pt")
    assert [(r.action, r.pattern) for r in cfg.rules] == [
        ("unfreeze", "classifier.*"),
        ("freeze", r"re:classifier\.6"),
        ("freeze", "classifier.0"),
    ]
    assert cfg.rules[1].origin == "c.yaml: rules[1].freeze[0]"
    assert cfg.expect == Expectations(trainable=12, max_trainable_pct=5.5)


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("model: vgg16\nrulez: []\n", "rulez (line 2): unknown key 'rulez'; did you mean 'rules'?"),
        (
            "model: vgg16\nrules:\n  - freez: a\n",
            "rules[0].freez (line 3): unknown action 'freez'; did you mean 'freeze'",
        ),
        ("model: vgg16\nrules: {freeze: a}\n", "rules (line 2): must be a list"),
        ("model: vgg16\nexpect:\n  trainable: many\n", "expect.trainable (line 3): must be a whole number"),
        ("model: vgg16\nexpect:\n  trainable: true\n", "expect.trainable (line 3): must be a whole number"),
        ("model: vgg16\nexpect:\n  max_trainable_pct: 101\n", "must be a percentage between 0 and 100"),
        ("model: vgg16\ndefault: thawed\n", "default (line 2): must be one of trainable, frozen, keep"),
        ("model: 3\n", "model (line 1): must be a model name or a mapping of name, factory, args, not an integer"),
        ("model: {name: a, factory: b}\n", "give exactly one of 'name'"),
        ("- model: vgg16\n", "document (line 1): must be a mapping"),
        ("model: vgg16\nrules:\n  - freeze: 're:('\n", "invalid regular expression"),
        ("model: [unclosed\n", "not valid YAML (line 2"),
        ("", "the config is empty"),
        ("a: &x [1]\nb: *x\n", "aliases (*x) are not allowed"),
        ("model: vgg16\nrules:\n  - freeze: []\n", "rules[0].freeze (line 3): the list of patterns is empty"),
        ("model: {name: m.py:build, args: {d: 2001-01-01}}\n", "model.args.d (line 1): must be a string, number"),
    ],
)
def test_errors_name_file_key_and_line(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(str(path))
    assert fragment in str(err.value)


def test_unreadable_inputs(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"model: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad)
    deep = write(tmp_path, "a: " + "[" * 100 + "]" * 100 + "\n", "deep.yaml")
    with pytest.raises(ConfigError, match="nested deeper than 16 levels"):
        load_config(deep)


def test_control_characters_in_user_text_stay_on_one_line(tmp_path):
    path = write(tmp_path, '"bad\\nkey\\tx": 1\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "unknown key 'bad\\nkey\\tx'" in str(err.value) and "\n" not in str(err.value)


def test_checkpoint_models_resolve_against_the_config_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("w.ckpt", "W.PT", "m.safetensors"):
        cfg = load_config(write(tmp_path / "sub", f"model: {name}\n"))
        assert config_source(cfg).text == str(tmp_path / "sub" / name)
