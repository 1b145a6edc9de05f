"""The freeze manifest (a lock file): what was frozen, on which exact inventory. Pure: no torch.

`check` re-resolves the rules against the model and reports drift: a frozen set
that changed, or an inventory (names, shapes, dtypes) that no longer matches
the fingerprint, e.g. after a torchvision upgrade renamed layers. Version 2 also
records the BatchNorm policy and the frozen values' digests (core/manifest_values.py);
version 1 manifests are still read, by names only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..bounded_read import refuse_special
from ..errors import ConfigError, quoted
from ..text_files import read_text
from .batchnorm_policy import BatchNormPolicy
from .config import MAX_RULES
from .installed import versions
from .manifest_values import NOT_RECORDED_V1, RecordedValues, entry, parse_values
from .name_lists import first_names
from .plan import Default, Plan
from .records import Inventory
from .report import ModelInfo
from .rules import Rule, RuleError, validate_rule

SCHEMA = "freezekit.manifest"
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
MAX_MANIFEST_BYTES = 256 << 20
MAX_NAMES = 1_000_000  # parameter names in 'frozen' and 'parameters' (a safetensors header's tensor limit)


def parameter_table(inventory: Inventory) -> dict[str, str]:
    """Every parameter name (aliases included), in registration order, mapped to 'shape:dtype'."""
    return {name: entry(p.shape, p.dtype) for p in inventory.params for name in p.names}


def fingerprint(table: dict[str, str], version: int = SCHEMA_VERSION) -> str:
    """SHA-256 of the parameter table, sorted by name: a checkpoint that lists the same tensors in
    another order has the same fingerprint. Version 1 manifests hashed the table in its own order."""
    digest = hashlib.sha256()
    for name, value in table.items() if version == 1 else sorted(table.items()):
        digest.update(f"{name}\t{value}\n".encode())
    return "sha256:" + digest.hexdigest()


def build_manifest(
    model: ModelInfo,
    plan: Plan,
    inventory: Inventory,
    batchnorm: BatchNormPolicy | None = None,
    values: RecordedValues | None = None,
    saved: str | None = None,
) -> dict[str, Any]:
    """The manifest document. Build it through pipeline/manifest_output.py, which takes the values."""
    table = parameter_table(inventory)
    frozen = [name for d in plan.decisions if not d.trainable for name in d.param.names]
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "model": model.as_dict(),
        "default": plan.default,
        "batchnorm": None if batchnorm is None else batchnorm.value,
        "values": (values or RecordedValues(False, "no values were given")).as_dict(),
        "saved": saved,  # the --save file written with it (relative to the manifest's folder): check's reference
        "rules": [{"action": r.action, "pattern": r.pattern, "origin": r.origin} for r in plan.rules],
        "frozen": frozen,
        "counts": {
            "parameters": sum(d.param.numel for d in plan.decisions),
            "frozen": sum(d.param.numel for d in plan.decisions if not d.trainable),
        },
        "fingerprint": fingerprint(table),
        "parameters": table,
        "versions": versions(),
    }


def manifest_json(doc: dict[str, Any]) -> str:
    """A manifest as written to disk, by `freeze --manifest` and by the API's save_manifest alike."""
    return json.dumps(doc, indent=1) + "\n"


@dataclass(frozen=True)
class Manifest:
    path: str
    model: ModelInfo
    default: Default
    rules: tuple[Rule, ...]
    frozen: tuple[str, ...]
    fingerprint: str
    parameters: dict[str, str]
    version: int = SCHEMA_VERSION
    batchnorm: BatchNormPolicy | None = None  # None: not recorded (version 1), or the default policy chosen
    values: RecordedValues = RecordedValues(False, NOT_RECORDED_V1)
    saved: str | None = None


def _damaged(path: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: damaged manifest: {problem}")


def _need(path: str, data: dict, key: str, kind: type | tuple[type, ...], what: str, optional: bool = False) -> Any:
    """data[key], checked against the type the manifest format gives it; where = the key path."""
    if key not in data:
        if optional:
            return None
        raise _damaged(path, f"missing {what!r}")
    value = data[key]
    if (optional and value is None) or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise _damaged(path, f"{what!r} has the wrong type ({type(value).__name__})")


def _rules(path: str, value: list) -> tuple[Rule, ...]:
    if len(value) > MAX_RULES:  # the same cap as a config's: a lock file is no bigger a recipe
        raise _damaged(path, f"{len(value):,} rules is over the limit of {MAX_RULES:,}")
    rules = []
    for i, item in enumerate(value):
        where = f"rules[{i}]"
        if not isinstance(item, dict):
            raise _damaged(path, f"{where!r} must be an object with action and pattern")
        action = _need(path, item, "action", str, f"{where}.action")
        pattern = _need(path, item, "pattern", str, f"{where}.pattern")
        origin = _need(path, item, "origin", str, f"{where}.origin", optional=True) or ""
        rule = Rule(action, pattern, origin, from_file=True)  # validate_rule below checks the action
        try:
            validate_rule(rule)
        except RuleError as exc:
            raise _damaged(path, f"{where}: {exc}") from exc
        rules.append(rule)
    return tuple(rules)


def _strings(path: str, value: Any, what: str) -> None:
    if len(value) > MAX_NAMES:
        raise _damaged(path, f"{what!r} lists {len(value):,} names, over the limit of {MAX_NAMES:,}")
    if not all(isinstance(v, str) for v in value):
        raise _damaged(path, f"{what!r} must hold only strings")


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON (Python's reader accepts them): a manifest holds finite numbers."""
    raise ValueError(f"{name} is not a JSON number (freezekit writes strict JSON)")


def load_manifest(path: str) -> Manifest:
    """Read and validate a manifest: every key the format has, with its type; errors name the file and key."""
    refuse_special(path, "manifest file", ConfigError)  # someone else's file: a FIFO would block forever
    return parse_manifest(path, read_text(path, MAX_MANIFEST_BYTES, "manifest file"))


def parse_manifest(path: str, text: str) -> Manifest:
    """A manifest from its JSON text; `path` names where it came from in errors (a file, or the
    checkpoint that embeds it)."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not a JSON manifest: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: not a JSON manifest: nested too deeply") from exc
    except ValueError as exc:  # an integer literal over Python's 4,300-digit limit
        raise ConfigError(f"{path}: not a JSON manifest: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ConfigError(f'{path}: not a freezekit manifest (no "schema": "{SCHEMA}")')
    version = data.get("schema_version")
    if type(version) is not int or version not in READABLE_VERSIONS:  # not True, not 1.0: JSON says which
        raise ConfigError(
            f"{path}: manifest schema_version {quoted(version)} is not supported "
            f"(this freezekit reads {' and '.join(map(str, READABLE_VERSIONS))})"
        )
    m = _need(path, data, "model", dict, "model")
    source = _need(path, m, "source", str, "model.source")
    if not source.strip():
        raise _damaged(path, "'model.source' is empty")
    model = ModelInfo(
        source,
        _need(path, m, "kind", str, "model.kind"),
        _need(path, m, "weights", str, "model.weights", optional=True),
        _need(path, m, "weights_file", str, "model.weights_file", optional=True),
        dict(_need(path, m, "args", dict, "model.args", optional=True) or {}),
        _hub(path, m),
    )
    default = _need(path, data, "default", str, "default")
    if default not in Default.values():
        raise _damaged(path, f"'default' must be one of {', '.join(Default.values())}, not {quoted(default)}")
    frozen = _need(path, data, "frozen", list, "frozen")
    _strings(path, frozen, "frozen")
    parameters = _need(path, data, "parameters", dict, "parameters")
    _strings(path, parameters.values(), "parameters")
    _need(path, data, "versions", dict, "versions", optional=True)  # informative only, but typed like the rest
    return Manifest(
        path=str(path),
        model=model,
        default=Default(default),
        rules=_rules(path, _need(path, data, "rules", list, "rules")),
        frozen=tuple(frozen),
        fingerprint=_need(path, data, "fingerprint", str, "fingerprint"),
        parameters=dict(parameters),
        version=version,
        **(_version_2(path, data, parameters, frozen) if version >= 2 else {}),
    )


def _version_2(path: str, data: dict, parameters: dict[str, str], frozen: list[str]) -> dict[str, Any]:
    """What version 2 adds: the BatchNorm policy (null: none chosen) and the recorded values."""
    policy = _need(path, data, "batchnorm", str, "batchnorm", optional=True)
    if policy is not None and policy not in BatchNormPolicy.values():
        raise _damaged(path, f"'batchnorm' must be one of {', '.join(BatchNormPolicy.values())}, not {quoted(policy)}")
    values = parse_values(path, _need(path, data, "values", dict, "values"), parameters, frozen)
    saved = _need(path, data, "saved", str, "saved", optional=True)
    return {"batchnorm": None if policy is None else BatchNormPolicy(policy), "values": values, "saved": saved}


@dataclass(frozen=True)
class Drift:
    """Differences between a manifest and the model now. Empty lists: no drift."""

    added: tuple[str, ...] = ()  # parameters the model has and the manifest does not
    removed: tuple[str, ...] = ()  # parameters the manifest names and the model lacks
    changed: tuple[str, ...] = ()  # same name, other shape or dtype: "name: 3x3:float32 -> 3x4:float32"
    newly_frozen: tuple[str, ...] = ()
    newly_trainable: tuple[str, ...] = ()
    fingerprint_now: str = ""
    fingerprint_then: str = ""  # the manifest's table, fingerprinted as fingerprint_now is (sorted)

    manifest_edited: bool = False  # its stored fingerprint does not match its own parameter table
    values_changed: tuple[str, ...] = ()  # frozen tensors whose bytes differ from the recorded digest
    stats_moved: tuple[str, ...] = ()  # running statistics of frozen norm layers that moved
    values_compared: int = 0  # frozen tensors compared by value
    values_note: str = ""  # why values were not compared (or only some), empty when all were

    @property
    def drifted(self) -> bool:
        return bool(
            self.added
            or self.removed
            or self.changed
            or self.newly_frozen
            or self.newly_trainable
            or self.manifest_edited
            or self.values_changed
            or self.stats_moved
        )

    def lines(self) -> list[str]:
        out = []
        for label, names in (
            ("parameters added", self.added),
            ("parameters removed", self.removed),
            ("shape or dtype changed", self.changed),
            ("now frozen, were trainable", self.newly_frozen),
            ("now trainable, were frozen", self.newly_trainable),
            ("frozen values changed", self.values_changed),
            ("frozen norm statistics moved", self.stats_moved),
        ):
            if names:
                out.append(f"{label} ({len(names)}): {first_names(names)}")
        if self.manifest_edited:
            out.append("the manifest's fingerprint does not match its own parameter table: it was edited by hand")
        if out and self.fingerprint_then != self.fingerprint_now:
            out.append(f"fingerprint: manifest {self.fingerprint_then}, model {self.fingerprint_now}")
        return out


def compare(manifest: Manifest, plan: Plan, inventory: Inventory) -> Drift:
    table = parameter_table(inventory)
    frozen_now = {name for d in plan.decisions if not d.trainable for name in d.param.names}
    frozen_then = set(manifest.frozen)
    return Drift(
        added=tuple(n for n in table if n not in manifest.parameters),
        removed=tuple(n for n in manifest.parameters if n not in table),
        changed=tuple(
            f"{n}: {manifest.parameters[n]} -> {v}"
            for n, v in table.items()
            if n in manifest.parameters and manifest.parameters[n] != v
        ),
        newly_frozen=tuple(n for n in table if n in frozen_now and n not in frozen_then),
        newly_trainable=tuple(n for n in table if n in frozen_then and n not in frozen_now),
        fingerprint_now=fingerprint(table),
        fingerprint_then=fingerprint(manifest.parameters),
        manifest_edited=fingerprint(manifest.parameters, manifest.version) != manifest.fingerprint,
    )


def _hub(path: str, m: dict) -> dict[str, str]:
    """The hf: options a manifest recorded (hf_class, revision, base): strings, known keys only."""
    hub = _need(path, m, "hub", dict, "model.hub", optional=True) or {}
    unknown = sorted(set(hub) - {"hf_class", "revision", "base"})
    if unknown:
        raise _damaged(path, f"'model.hub' has an unknown key {quoted(unknown[0])}")
    _strings(path, hub.values(), "model.hub")
    return dict(hub)
