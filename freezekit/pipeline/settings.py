"""What a command asks (Settings), built once from a config file and the command line. Pure: no torch."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import yaml

from ..core.batchnorm_policy import BatchNormPolicy
from ..core.config import Config, load_config
from ..core.expectations import Expectations
from ..core.plan import DEFAULT_START, Default
from ..core.rules import Rule, validate_rule
from ..core.training_config import Training
from ..errors import ConfigError, UsageError, WeightsError
from ..sources.registry import parse_source, source_type
from ..sources.spec import SourceKind, SourceOptions, SourceSpec
from ..text_files import check_input_file

DEFAULT_CONFIG = "freezekit.yaml"


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know, merged from the config and the command line."""

    source: SourceSpec
    rules: tuple[Rule, ...] = ()
    default: Default = DEFAULT_START
    allow_unmatched: bool = False  # a rule that selects nothing: a warning, not an error (--allow-unmatched)
    expect: Expectations = Expectations()
    batchnorm: BatchNormPolicy | None = None  # None: not chosen (core/batchnorm_policy.effective says which applies)
    needs_values: bool = False  # the command needs real tensors (--save, verify)
    use_cache: bool = True
    config_path: str | None = None  # the config the settings came from, if any
    training: Training = Training()  # the config's optimizer:, stages: and unit: sections

    @property
    def materialize(self) -> bool:
        """Whether the model must hold real values (else it is built on the meta device): decided here only."""
        return self.needs_values or self.source.weights is not None or self.source.weights_file is not None

    def input_files(self) -> tuple[str, ...]:
        """Files this run reads: an output must never overwrite one of them."""
        files = (self.source.weights_file, self.config_path, *source_type(self.source.kind).input_files(self.source))
        return tuple(f for f in files if f)


def parse_arg(text: str) -> tuple[str, Any]:
    """`--arg key=value`: the value is read as a YAML scalar (4 -> int, true -> bool, 0.5 -> float)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise UsageError(f"--arg '{text}': expected key=value with a Python identifier as key")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except (yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError):
        parsed = value  # YAML that cannot be built (2001-13-45, !!int x): keep the text as given
    if not isinstance(parsed, (str, int, float, bool, type(None))):
        parsed = value  # only JSON scalars (a date, a list, a mapping stay the text as given)
    if isinstance(parsed, float) and not math.isfinite(parsed):
        raise UsageError(
            f"--arg '{text}': {value.strip()} is not a finite number; reports and manifests are strict "
            "JSON, which has no NaN or infinity (quote it to pass the text)"
        )
    return key.strip(), parsed


def command_line_rules(
    patterns: Sequence[str], unfreezes: Sequence[str], order: Sequence[str] | None
) -> tuple[Rule, ...]:
    """Rebuild the order in which -p and -u were given (order: 'pattern'/'unfreeze' per occurrence)."""
    queues = {"pattern": list(patterns), "unfreeze": list(unfreezes)}
    if not order or len(order) != len(patterns) + len(unfreezes):
        order = ["pattern"] * len(patterns) + ["unfreeze"] * len(unfreezes)
    rules = []
    for which in order:
        pattern = queues[which].pop(0)
        rule = Rule(
            "freeze" if which == "pattern" else "unfreeze", pattern, "--pattern" if which == "pattern" else "--unfreeze"
        )
        validate_rule(rule)
        rules.append(rule)
    return tuple(rules)


def find_config(config_path: str | None, model: str | None) -> Config | None:
    if config_path is not None:
        return load_config(config_path)
    if model is None:
        if Path(DEFAULT_CONFIG).is_file():
            return load_config(DEFAULT_CONFIG)
        raise UsageError(f"no MODEL given, and no {DEFAULT_CONFIG} in this folder; name a model or pass --config FILE")
    return None


def config_source(config: Config) -> SourceSpec | None:
    """The config's model, parsed, a relative file resolved against the config's folder."""
    if config.model is None:
        return None
    folder = Path(config.path).parent
    hub = config.model.hub
    base = hub.get("base")
    if base is not None:  # a PEFT base folder beside the config
        base = parse_source(base if base.startswith("hf:") else "hf:" + base, base=folder).text
    options = SourceOptions(
        args=config.model.args, hf_class=hub.get("hf_class"), revision=hub.get("revision"), base=base
    )
    return parse_source(config.model.name, options, folder)


def resolve_source(config: Config | None, model: str | None, options: SourceOptions = SourceOptions()) -> SourceSpec:
    """MODEL replaces the config's model (keeping its args when it names the same one); command-line
    values win over the config's. hf_class, revision and base apply to hf: models only."""
    config, o = config or Config(), options
    if o.weights_file is not None:
        check_input_file(o.weights_file, "weights file", WeightsError)  # fail before building anything
    from_config = config_source(config)
    if model is not None:
        source = from_config if from_config is not None and from_config.text == model else parse_source(model)
    elif from_config is not None:
        source = from_config
    else:
        raise ConfigError(f"{config.path}: no 'model:' key, and no MODEL on the command line")
    source = replace(
        source,
        args={**source.args, **o.args},
        weights=o.weights if o.weights is not None else config.weights,
        weights_file=o.weights_file if o.weights_file is not None else config.weights_file,
        trust_pickle=o.trust_pickle,
        download=o.download,
        trust_code=o.trust_code,
    )
    given = [name for name, value in (("hf-class", o.hf_class), ("revision", o.revision), ("base", o.base)) if value]
    if given:
        if source.kind is not SourceKind.HF:
            raise UsageError(f"--{given[0]} applies to hf: models, not to '{source.text}'")
        source = replace(
            source,
            hf_class=o.hf_class or source.hf_class,
            revision=o.revision or source.revision,
            base=o.base or source.base,
        )
    return source


@dataclass(frozen=True)
class Request:
    """What the caller asks beyond the config and the model, from the command line or the Python
    API: one typed value, carried whole into build_settings."""

    rules: tuple[Rule, ...] = ()  # after the config's
    default: Default | None = None  # None: the config's, else the model's natural start
    allow_unmatched: bool = False  # a rule that selects nothing is a warning, not an error
    expect: Expectations = Expectations()  # merged over the config's
    batchnorm: BatchNormPolicy | None = None  # None: the config's
    needs_values: bool = False
    use_cache: bool = True


def build_settings(config: Config | None, source: SourceSpec, request: Request = Request()) -> Settings:
    """The one merge of a config and the caller's request (command line or Python API): the
    request's rules come after the config's, its other values win."""
    config = config or Config()
    return Settings(
        source=source,
        rules=config.rules + request.rules,
        default=request.default or config.default or natural_default(source),
        allow_unmatched=request.allow_unmatched,
        expect=config.expect.merged_with(request.expect),
        batchnorm=request.batchnorm or config.batchnorm,
        config_path=config.path or None,
        training=config.training,
        needs_values=request.needs_values,
        use_cache=request.use_cache,
    )


def natural_default(source: SourceSpec) -> Default:
    """Where rules start when neither the caller nor the config says: a PEFT adapter as PEFT
    arranged it (keep: base frozen, adapter trainable), every other model DEFAULT_START."""
    if source.kind is not SourceKind.HF:
        return DEFAULT_START
    from ..sources.hub_folders import is_adapter

    return Default.KEEP if is_adapter(source.ref, source.revision, source.repo_ids_only) else DEFAULT_START


def from_command_line(
    *, config_path: str | None, model: str | None, source: SourceOptions = SourceOptions(), request: Request = Request()
) -> Settings:
    """The settings of a freeze, count or verify command line: the config it names (or
    ./freezekit.yaml), the model, and what the command line asks, merged once."""
    config = find_config(config_path, model)
    return build_settings(config, resolve_source(config, model, source), request)
