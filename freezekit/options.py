"""Merge a config file and command-line values into AuditOptions. Pure: no torch."""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import yaml

from .audit import AuditOptions
from .config import Config, ModelSpec, load_config
from .errors import ConfigError, UsageError, WeightsError
from .expectations import Expectations
from .rules import Rule, validate_rule
from .text_files import check_input_file

DEFAULT_CONFIG = "freezekit.yaml"


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
        raise UsageError(f"--arg '{text}': {value.strip()} is not a finite number; reports and manifests are strict "
                         "JSON, which has no NaN or infinity (quote it to pass the text)")
    return key.strip(), parsed


def command_line_rules(patterns: Sequence[str], unfreezes: Sequence[str], order: Sequence[str] | None) -> tuple[Rule, ...]:
    """Rebuild the order in which -p and -u were given (order: 'pattern'/'unfreeze' per occurrence)."""
    queues = {"pattern": list(patterns), "unfreeze": list(unfreezes)}
    if not order or len(order) != len(patterns) + len(unfreezes):
        order = ["pattern"] * len(patterns) + ["unfreeze"] * len(unfreezes)
    rules = []
    for which in order:
        pattern = queues[which].pop(0)
        rule = Rule("freeze" if which == "pattern" else "unfreeze", pattern,
                    "--pattern" if which == "pattern" else "--unfreeze")
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


def merge_options(
    config: Config | None,
    *,
    model: str | None,
    args: Sequence[str] = (),
    rules: tuple[Rule, ...] = (),
    default: str | None = None,
    strict: bool = True,
    expect: Expectations = Expectations(),
    weights: str | None = None,
    weights_file: str | None = None,
    trust_pickle: bool = False,
    batchnorm: str | None = None,
    materialize: bool = False,
    use_cache: bool = True,
) -> AuditOptions:
    config = config or Config()
    if weights_file is not None:
        check_input_file(weights_file, "weights file", WeightsError)  # fail before building anything
    if model is not None:
        spec = ModelSpec(model, dict(config.model.args) if config.model and config.model.name == model else {})
    elif config.model is not None:
        spec = config.model
    else:
        raise ConfigError(f"{config.path}: no 'model:' key, and no MODEL on the command line")
    if args:
        spec = replace(spec, args={**spec.args, **dict(parse_arg(a) for a in args)})
    return AuditOptions(
        model=spec,
        rules=config.rules + rules,
        default=default or config.default,
        strict=strict,
        expect=config.expect.merged_with(expect),
        weights=weights if weights is not None else config.weights,
        weights_file=weights_file if weights_file is not None else config.weights_file,
        trust_pickle=trust_pickle,
        batchnorm=batchnorm or config.batchnorm,
        config_path=config.path or None,
        materialize=materialize,
        use_cache=use_cache,
    )
