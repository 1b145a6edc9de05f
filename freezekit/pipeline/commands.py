"""What the commands do between parsed options and a report: load, plan, write, compare.

Slow steps are wrapped in `progress(message)`, a context manager the caller supplies (the CLI
passes a spinner on stderr); this module draws nothing itself.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from ..atomic_write import atomic_paths, check_destination, check_distinct
from ..core.manifest import Drift, compare, load_manifest, manifest_json
from ..core.manifest_paths import relative_to_manifest_folder, resolve_in_manifest_folder
from ..core.manifest_values import ValuesChoice
from ..core.report import Command, ModelInfo, Report
from ..core.stages import StageRow, stage_rows
from ..errors import ConfigError, OutputError, UnsafeCodeError, UsageError
from ..sources.checkpoint import SUFFIXES as CHECKPOINT_SUFFIXES
from ..sources.hub_folders import check_revision, is_repo_id
from ..sources.registry import parse_source, source_type
from ..sources.spec import Loaded, SourceKind, SourceOptions, SourceSpec
from .audit import Audit, Progress, apply_to_model, audit, quiet
from .settings import Request, Settings, build_settings

CHECKPOINT_KINDS = frozenset(CHECKPOINT_SUFFIXES.values())  # MODEL given as a file name


def run_audit(
    command: Command,
    settings: Settings,
    *,
    save: str | None = None,
    manifest: str | None = None,
    force: bool = False,
    progress: Progress = quiet,
    values: ValuesChoice = ValuesChoice.AUTO,
    export: str | None = None,
    stages: bool = False,
) -> Audit:
    """freeze and count: the audit (what was loaded, the plan, the report), its outputs written.
    `stages`: also the rows of the config's schedule, computed before anything is written (a stage
    selecting nothing writes nothing)."""
    # Refuse bad destinations before any work: a failed run writes nothing.
    if save is not None and not source_type(settings.source.kind).builds_model(settings.source):
        raise UsageError("--save needs a model to take weights from; MODEL is a checkpoint file")
    check_distinct({"--save": save, "--manifest": manifest, "--export": export})  # export: written by the caller
    inputs = settings.input_files() if save is not None or manifest is not None else ()
    if save is not None:
        from ..adapter.save import check_save_path

        check_destination(save, force, inputs)
        check_save_path(save)
    if manifest is not None:
        check_destination(manifest, force, inputs)
    done = audit(command, settings, progress)
    if stages:
        done = replace(done, stages=_stage_rows(done, settings))
    loaded, plan, report = done.loaded, done.plan, done.report
    if (save is not None or manifest is not None) and not report.failed_expectations:
        # (a freeze that misses its expectations is not written)
        model = _resolved_weights(report.model, settings)
        from .manifest_output import manifest_document

        info = _relative_paths(model, settings, manifest) if manifest else model
        saved = relative_to_manifest_folder(manifest, save) if manifest and save else None
        doc = manifest_document(info, plan, loaded.inventory, settings.batchnorm, loaded.model, values, saved)
        if not settings.training.empty:  # optional: the optimizer section and the schedule
            doc["training"] = settings.training.as_dict()
        if save is not None:
            from ..adapter.save import check_savable

            check_savable(loaded.model, save)
        with progress(f"Writing {' and '.join(p for p in (save, manifest) if p is not None)}"):
            _write_outputs(loaded, plan, doc, save, manifest, force)
    return done


def _stage_rows(done: Audit, settings: Settings) -> tuple[StageRow, ...]:
    return stage_rows(done.loaded.inventory, done.plan, settings.training.stages)


def _resolved_weights(model: ModelInfo, settings: Settings) -> ModelInfo:
    """The manifest records the weights actually loaded (IMAGENET1K_V1), never the alias DEFAULT,
    whose meaning changes when torchvision publishes better weights."""
    if model.weights != "DEFAULT" or settings.source.kind is not SourceKind.TORCHVISION:
        return model
    from ..adapter.weights import resolve

    return replace(model, weights=resolve(settings.source.ref, "DEFAULT").name)


def _relative_paths(model: ModelInfo, settings: Settings, manifest: str) -> ModelInfo:
    """Files recorded as check reads them back: relative to the manifest's folder."""
    changes: dict[str, Any] = {}
    if model.weights_file is not None:
        changes["weights_file"] = relative_to_manifest_folder(manifest, model.weights_file)
    if settings.source.kind in CHECKPOINT_KINDS:
        changes["source"] = relative_to_manifest_folder(manifest, model.source)
    if settings.source.kind is SourceKind.HF:  # folders as check reads them: beside the manifest
        changes["source"] = _hub_relative(manifest, model.source)
        if "base" in model.hub:
            changes["hub"] = {**model.hub, "base": _hub_relative(manifest, model.hub["base"])}
    return replace(model, **changes)


def _hub_in_manifest_folder(manifest_path: str, spec: SourceSpec, mine: bool) -> SourceSpec:
    """An hf: source and PEFT base a manifest names: a folder inside the manifest's folder, or a repo id
    in the local cache (never a folder of the working directory); hub.revision a hash or a ref name."""
    check_revision(spec.revision, f"{manifest_path}: model.hub.revision", ConfigError)
    base = spec.base and _manifest_hub_ref(manifest_path, "model.hub.base", spec.base.removeprefix("hf:"))
    if mine:  # MODEL given on the command line: the user's own
        return replace(spec, base=base)
    ref = _manifest_hub_ref(manifest_path, "model.source", spec.ref)
    return replace(spec, text=f"hf:{ref}", ref=ref, base=base, repo_ids_only=True)


def _manifest_hub_ref(manifest_path: str, key: str, ref: str) -> str:
    folder = os.path.join(os.path.dirname(manifest_path), ref)
    if is_repo_id(ref) and not os.path.isdir(folder):
        return ref
    return os.path.abspath(resolve_in_manifest_folder(manifest_path, key, ref))


def _hub_relative(manifest: str, text: str) -> str:
    ref = text.removeprefix("hf:")
    return "hf:" + relative_to_manifest_folder(manifest, ref) if os.path.isdir(ref) else text


def _write_outputs(loaded: Loaded, plan, doc: dict, save: str | None, manifest: str | None, force: bool) -> None:
    """Both files are written in full to temp files, then renamed into place together: a failure
    or an interrupt at any point leaves both old files (or none) in place, never a mixed pair."""
    outputs = [p for p in (save, manifest) if p is not None]
    try:
        with atomic_paths(outputs, force) as tmps:
            if save is not None:
                from ..adapter.save import write_weights

                apply_to_model(loaded.model, plan)
                write_weights(loaded.model, tmps[0], save, doc)
            if manifest is not None:
                tmps[-1].write_text(manifest_json(doc), encoding="utf-8")
    except OSError as exc:
        names = " and ".join(outputs)
        raise OutputError(f"{names}: cannot write: {exc.strerror or exc}; nothing was written") from exc


def run_check(
    manifest_path: str,
    model: str | None,
    trust_pickle: bool = False,
    progress: Progress = quiet,
    trust_code: bool = False,
    download: bool = False,
) -> tuple[Drift, Report]:
    """Re-resolve the manifest's own rules, on its model (or MODEL), with its weights, and compare.

    A factory the manifest names is imported and called only with `trust_code` (or when the
    caller names the model itself, as MODEL): a manifest is someone else's file. For the same
    reason nothing is downloaded unless `download` (check --download): not the torchvision weights
    the manifest names, not timm/hf files."""
    m = load_manifest(manifest_path)
    if model is None and m.model.kind == SourceKind.PYTHON.value:
        raise UsageError(
            f"{manifest_path}: written from Python for a {m.model.source} object; "
            "name the model to check: freezekit check MANIFEST MODEL"
        )
    text = m.model.source if model is None else model
    weights_file = m.model.weights_file  # paths from the manifest stay inside its folder
    if weights_file is not None:
        weights_file = resolve_in_manifest_folder(manifest_path, "model.weights_file", weights_file)
    hub = m.model.hub if text == m.model.source else {}
    options = SourceOptions(
        args=m.model.args if text == m.model.source else {},
        weights=m.model.weights,
        weights_file=weights_file,
        trust_pickle=trust_pickle,
        hf_class=hub.get("hf_class"),
        revision=hub.get("revision"),
        base=hub.get("base"),
        trust_code=trust_code,
        download=download,
    )
    spec = parse_source(text, options)
    if spec.kind == SourceKind.TORCHVISION and spec.weights is not None and not download:
        from ..adapter.weights import require_cached

        require_cached(spec.ref, spec.weights, f"{manifest_path} names them; check downloads only with --download")
    if model is None and spec.kind in CHECKPOINT_KINDS:
        path = resolve_in_manifest_folder(manifest_path, "model.source", spec.ref)
        spec = replace(spec, text=path, ref=path)
    if spec.kind is SourceKind.HF:
        spec = _hub_in_manifest_folder(manifest_path, spec, mine=model is not None)
    if model is None and not trust_code and source_type(spec.kind).runs_code(spec):
        raise UnsafeCodeError(
            f"{manifest_path}: the manifest names code to import and run ('{spec.text}'), which was not run; "
            f"if you trust the manifest pass --trust-code, or name the model yourself: "
            f"freezekit check {manifest_path} '{spec.text}'"
        )
    settings = build_settings(
        None, spec, Request(rules=m.rules, default=m.default, allow_unmatched=True, batchnorm=m.batchnorm)
    )
    done = audit(Command.CHECK, settings, progress)
    from .manifest_output import model_values

    drift = compare(m, done.plan, done.loaded.inventory)
    return replace(drift, **model_values(m, done.loaded.model)), done.report
