"""The YAML config (pure Python, no torch): loading with limits, validation with key paths and lines.

model: vgg16                       # or {name: vgg16}, or {factory: "pkg.mod:build", args: {depth: 4}}
weights: DEFAULT                   # optional: a torchvision weights enum name
weights_file: path/to/state.pt     # optional: relative to this file
default: trainable                 # trainable | frozen | keep
batchnorm: train                   # train | eval | frozen
rules:
  - freeze: "features.*"
  - unfreeze: ["features.28.weight", "re:features\\.28\\.bias"]
expect:
  trainable: 126002664
  max_trainable_pct: 95
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ..errors import ConfigError, quoted, shortened
from ..text_files import read_text
from .batchnorm_policy import BatchNormPolicy
from .choice import Choice
from .config_values import TRAINING_KEYS, parse_training
from .config_values import check_keys as _check_keys
from .config_values import kind_of as _kind
from .expectations import Expectations
from .plan import Default
from .rules import ACTIONS, Rule, RuleError, validate_rule
from .suggest import did_you_mean
from .training_config import Training
from .yaml_keys import UniqueKeyLoader

C = TypeVar("C", bound=Choice)

MAX_CONFIG_BYTES = 1 << 20  # 1 MiB: a config is a screenful, not a data set
MAX_DEPTH = 16
MAX_RULES = 10_000
TOP_KEYS = ("model", "weights", "weights_file", "default", "batchnorm", "rules", "expect", *TRAINING_KEYS)
MODEL_KEYS = ("name", "factory", "args", "hf_class", "revision", "base")
HUB_KEYS = MODEL_KEYS[3:]  # options of hf: models
EXPECT_KEYS = ("trainable", "frozen", "total", "max_trainable_pct")


@dataclass(frozen=True)
class ConfigModel:
    """The config's `model:` as written; the settings parse it (sources.registry.parse_source),
    resolving a relative file against the config's folder."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    hub: dict[str, str] = field(default_factory=dict)  # hf_class, revision, base (hf: models)


@dataclass(frozen=True)
class Config:
    path: str = ""
    model: ConfigModel | None = None
    weights: str | None = None
    weights_file: str | None = None
    default: Default | None = None  # None: not set here
    batchnorm: BatchNormPolicy | None = None
    rules: tuple[Rule, ...] = ()
    expect: Expectations = Expectations()
    training: Training = Training()  # optimizer:, stages:, unit:


class _Loader(UniqueKeyLoader):
    """SafeLoader that refuses aliases: anchors and aliases can expand exponentially ("billion laughs")."""

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ConfigError(
                f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not allowed in a freezekit config"
            )
        return super().compose_node(parent, index)


class _Doc:
    """Turns PyYAML nodes into Python values while remembering each key path's line."""

    def __init__(self, path: str, loader: _Loader):
        self.path, self.loader = path, loader
        self.lines: dict[str, int] = {}

    def value(self, node: yaml.Node, where: str, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ConfigError(f"{self.path}: {where or 'document'}: nested deeper than {MAX_DEPTH} levels")
        self.lines[where] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.scalar(key_node, where)
                if not isinstance(key, str):
                    raise ConfigError(f"{self.at(where)}: keys must be strings, not {quoted(key)}")
                sub = f"{where}.{key}" if where else key
                out[key] = self.value(value_node, sub, depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(node.value)]
        return self.scalar(node, where)

    def scalar(self, node: yaml.Node, where: str) -> Any:
        """One value as PyYAML builds it; a value its tag cannot build is a config error, not a crash.

        PyYAML raises plain ValueError, KeyError... for scalars it resolved but cannot build:
        `2001-13-45` (an implicit date), `!!int zz`, `!!bool maybe`, `!!timestamp x`.
        """
        try:
            return self.loader.construct_object(node)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            line = node.start_mark.line + 1
            tag = node.tag.rpartition(":")[2]
            raise ConfigError(
                f"{self.path}: {shortened(where) or 'document'} (line {line}): {quoted(node.value)} is not a valid {tag} value"
            ) from exc

    def at(self, where: str) -> str:
        line = self.lines.get(where)
        return f"{self.path}: {shortened(where) or 'document'}" + (f" (line {line})" if line else "")

    def error(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.at(where)}: {message}")


def load_config(path: str | os.PathLike) -> Config:
    return parse_text(read_text(path, MAX_CONFIG_BYTES, "config file"), Path(path))  # read before Path("") is "."


def parse_text(text: str, path: Path) -> Config:
    """A config from its text; `path` names it in errors and anchors relative files."""
    loader = None
    try:
        loader = _Loader(text)  # the reader checks every character here: NUL and other controls fail
        doc = _Doc(str(path), loader)
        node = loader.get_single_node()
        data = doc.value(node, "") if node is not None else None
    except ConfigError as exc:
        if not exc.message.startswith(str(path)):
            raise ConfigError(f"{path}: {exc.message}") from exc
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: nested too deeply to be a config") from exc
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        raise ConfigError(f"{path}: the config is empty; it needs at least 'model:' or 'rules:'")
    return _parse(data, doc, path)


def _string(doc: _Doc, where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise doc.error(where, f"must be a non-empty string, not {_kind(value)}")
    return value


def _choice(doc: _Doc, where: str, value: Any, choice: type[C]) -> C:
    choices = choice.values()
    if value not in choices:
        raise doc.error(
            where, f"must be one of {', '.join(choices)}, not {quoted(value)}{did_you_mean(str(value), list(choices))}"
        )
    return choice(value)


def _parse(data: Any, doc: _Doc, path: Path) -> Config:
    data = _check_keys(doc, "", data, TOP_KEYS)
    base = path.parent
    cfg: dict[str, Any] = {"path": str(path)}
    if "model" in data:
        cfg["model"] = _parse_model(doc, data["model"])
    if "weights" in data:
        cfg["weights"] = _string(doc, "weights", data["weights"])
    if "weights_file" in data:
        cfg["weights_file"] = str(base / _string(doc, "weights_file", data["weights_file"]))
    if "default" in data:
        cfg["default"] = _choice(doc, "default", data["default"], Default)
    if "batchnorm" in data:
        cfg["batchnorm"] = _choice(doc, "batchnorm", data["batchnorm"], BatchNormPolicy)
    if "rules" in data:
        cfg["rules"] = _parse_rules(doc, data["rules"], str(path.name))
    if "expect" in data:
        cfg["expect"] = _parse_expect(doc, data["expect"])
    return Config(**cfg, training=parse_training(doc, data))


def _parse_model(doc: _Doc, value: Any) -> ConfigModel:
    if isinstance(value, str):
        return ConfigModel(_string(doc, "model", value))
    if not isinstance(value, dict):
        raise doc.error(
            "model", f"must be a model name or a mapping of {', '.join(MODEL_KEYS[:3])}, not {_kind(value)}"
        )
    spec = _check_keys(doc, "model", value, MODEL_KEYS)
    if ("name" in spec) == ("factory" in spec):
        raise doc.error(
            "model", "give exactly one of 'name' (a torchvision model or a file) or 'factory' ('module:callable')"
        )
    key = "name" if "name" in spec else "factory"
    name = _string(doc, f"model.{key}", spec[key])
    if key == "factory" and ":" not in name:
        raise doc.error(
            "model.factory", f"{quoted(name)} must look like 'package.module:callable' or 'file.py:callable'"
        )
    args = spec.get("args", {})
    if args is None:  # `args:` with nothing after it
        args = {}
    if not isinstance(args, dict):
        raise doc.error("model.args", f"must be a mapping of argument names to values, not {_kind(args)}")
    for key, value in args.items():
        try:
            json.dumps(value, allow_nan=False)  # args are recorded in reports, manifests and cache keys
        except ValueError:
            raise doc.error(
                f"model.args.{key}",
                "must be a finite number: NaN and infinity have no place in strict JSON (reports, manifests)",
            ) from None
        except TypeError:
            raise doc.error(
                f"model.args.{key}",
                f"must be a string, number, boolean, null, or a list or mapping of those, not {type(value).__name__}",
            ) from None
    hub = {k: _string(doc, f"model.{k}", spec[k]) for k in HUB_KEYS if spec.get(k) is not None}
    return ConfigModel(name, dict(args), hub)


def _parse_rules(doc: _Doc, value: Any, origin: str) -> tuple[Rule, ...]:
    if not isinstance(value, list):
        raise doc.error("rules", f"must be a list like '- freeze: \"features.*\"', not {_kind(value)}")
    if len(value) > MAX_RULES:
        raise doc.error("rules", f"{len(value):,} rules is over the limit of {MAX_RULES:,}")
    rules = []
    for i, item in enumerate(value):
        where = f"rules[{i}]"
        if not isinstance(item, dict) or len(item) != 1:
            raise doc.error(where, "each rule is one mapping: '- freeze: PATTERN' or '- unfreeze: PATTERN'")
        ((action, patterns),) = item.items()
        if action not in ACTIONS:
            raise doc.error(
                f"{where}.{action}",
                f"unknown action {quoted(action)}{did_you_mean(action, list(ACTIONS))} (allowed: freeze, unfreeze)",
            )
        if isinstance(patterns, list) and not patterns:
            raise doc.error(f"{where}.{action}", "the list of patterns is empty")
        for j, pattern in enumerate(patterns if isinstance(patterns, list) else [patterns]):
            sub = f"{where}.{action}" + (f"[{j}]" if isinstance(patterns, list) else "")
            rule = Rule(action, _string(doc, sub, pattern), f"{origin}: {sub}", from_file=True)
            try:
                validate_rule(Rule(rule.action, rule.pattern))  # no origin: the error names file and key already
            except RuleError as exc:
                raise doc.error(sub, str(exc)) from exc
            rules.append(rule)
    return tuple(rules)


def _parse_expect(doc: _Doc, value: Any) -> Expectations:
    spec = _check_keys(doc, "expect", value, EXPECT_KEYS)
    out: dict[str, Any] = {}
    for key, item in spec.items():
        where = f"expect.{key}"
        if key == "max_trainable_pct":
            if isinstance(item, bool) or not isinstance(item, (int, float)) or not 0 <= item <= 100:
                raise doc.error(where, f"must be a percentage between 0 and 100, not {quoted(item)}")
            out[key] = float(item)
        else:
            if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                raise doc.error(where, f"must be a whole number of parameters (0 or more), not {quoted(item)}")
            out[key] = item
    return Expectations(**out)


def config_of(config: str | os.PathLike | dict) -> Config:
    """A config path, or the same content as a mapping (the Python API), checked as its YAML would be."""
    if not isinstance(config, dict):
        return load_config(config)
    try:
        text = yaml.safe_dump(config, sort_keys=False)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"config mapping: a value is not plain data (strings, numbers, lists, mappings): {exc}"
        ) from exc
    try:
        return parse_text(text, Path("<config mapping>"))
    except ConfigError as exc:  # the lines are those of a YAML text the user never saw
        raise ConfigError(re.sub(r" \(line \d+(, column \d+)?\)", "", exc.message)) from exc
