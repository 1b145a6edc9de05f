"""What the commands do between parsed options and a report: load, plan, write, compare.

Slow steps are wrapped in `progress(message)`, a context manager the caller supplies (the CLI
passes a spinner on stderr); this module draws nothing itself.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Callable, ContextManager

from ..atomic_write import atomic_path, check_destination
from ..core.manifest import Drift, build_manifest, compare, load_manifest
from ..core.report import Report
from ..errors import OutputError, UsageError
from ..sources.registry import parse_source, source_type
from ..sources.spec import Loaded, SourceKind
from .audit import apply_to_model, build_report, load, plan_for
from .settings import Settings, build_settings

Progress = Callable[[str], ContextManager[None]]


def quiet(message: str) -> ContextManager[None]:
    return contextlib.nullcontext()


def run_audit(command: str, options: Settings, *, save: str | None = None, manifest: str | None = None, force: bool = False,
              progress: Progress = quiet) -> Report:
    # Refuse bad destinations before any work: a failed run writes nothing.
    if save is not None and not source_type(options.source.kind).builds_model(options.source):
        raise UsageError("--save needs a model to take weights from; MODEL is a checkpoint file")
    if save is not None:
        from ..adapter.save import check_save_path

        check_destination(save, force, options.input_files())
        check_save_path(save)
    if manifest is not None:
        check_destination(manifest, force, options.input_files())
        if save is not None and Path(save).resolve() == Path(manifest).resolve():
            raise UsageError("--save and --manifest name the same file")
    with progress(f"Loading {options.source.text}"):
        loaded = load(options)
    plan = plan_for(loaded.inventory, options)
    report = build_report(command, loaded, plan, options)
    if (save is not None or manifest is not None) and not report.failed_expectations:
        # (a freeze that misses its expectations is not written)
        doc = build_manifest(report.model, plan, loaded.inventory)
        with progress(f"Writing {' and '.join(p for p in (save, manifest) if p is not None)}"):
            _write_outputs(loaded, plan, doc, save, manifest, force)
    return report


def _write_outputs(loaded: Loaded, plan, doc: dict, save: str | None, manifest: str | None, force: bool) -> None:
    """Both files are written in full to temp files before either is renamed into place, so a
    failure while writing (a full disk) leaves neither."""
    try:
        with contextlib.ExitStack() as stack:
            tmp_save = stack.enter_context(atomic_path(save, force)) if save is not None else None
            tmp_manifest = stack.enter_context(atomic_path(manifest, force)) if manifest is not None else None
            if tmp_save is not None and save is not None:
                from ..adapter.save import write_weights

                apply_to_model(loaded.model, plan)
                write_weights(loaded.model, tmp_save, Path(save).suffix.lower(), doc)
            if tmp_manifest is not None:
                tmp_manifest.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        names = " and ".join(p for p in (save, manifest) if p is not None)
        raise OutputError(f"{names}: cannot write: {exc.strerror or exc}; nothing was written") from exc


def run_check(manifest_path: str, model: str | None, trust_pickle: bool = False,
              progress: Progress = quiet) -> tuple[Drift, Report]:
    """Re-resolve the manifest's own rules, on its model (or MODEL), with its weights, and compare."""
    m = load_manifest(manifest_path)
    if model is None and m.model.kind == SourceKind.PYTHON.value:
        raise UsageError(f"{manifest_path}: written from Python for a {m.model.source} object; "
                         "name the model to check: freezekit check MANIFEST MODEL")
    text = m.model.source if model is None else model
    spec = parse_source(text, args=m.model.args if text == m.model.source else {}, weights=m.model.weights,
                        weights_file=m.model.weights_file, trust_pickle=trust_pickle,
                        hub=m.model.hub if text == m.model.source else {})
    options = build_settings(None, spec, rules=m.rules, default=m.default, strict=False)
    with progress(f"Loading {spec.text}"):
        loaded = load(options)
    plan = plan_for(loaded.inventory, options)
    report = build_report("check", loaded, plan, options)
    return compare(m, plan, loaded.inventory), report
