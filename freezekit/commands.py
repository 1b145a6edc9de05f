"""What the commands do between parsed options and a report: load, plan, write, compare.

Slow steps are wrapped in `progress(message)`, a context manager the caller supplies (the CLI
passes a spinner on stderr); this module draws nothing itself.
"""
from __future__ import annotations

import contextlib
import json
from typing import Callable, ContextManager

from .atomic_write import atomic_paths, check_destination, check_distinct
from .audit import AuditOptions, Loaded, apply_to_model, build_report, load, plan_for
from .config import ModelSpec
from .errors import OutputError, UsageError
from .manifest import Drift, build_manifest, compare, load_manifest
from .report import Report
from .sources import TORCHVISION, parse_source


Progress = Callable[[str], ContextManager[None]]


def quiet(message: str) -> ContextManager[None]:
    return contextlib.nullcontext()


def run_audit(command: str, options: AuditOptions, *, depth: int | None = None, only: str | None = None,
              save: str | None = None, manifest: str | None = None, force: bool = False,
              progress: Progress = quiet) -> Report:
    # Refuse bad destinations before any work: a failed run writes nothing.
    if save is not None and parse_source(options.model.name).is_checkpoint:
        raise UsageError("--save needs a model to take weights from; MODEL is a checkpoint file")
    check_distinct({"--save": save, "--manifest": manifest})
    inputs = _input_files(options) if save is not None or manifest is not None else ()
    if save is not None:
        from .adapter.save import check_save_path

        check_destination(save, force, inputs)
        check_save_path(save)
    if manifest is not None:
        check_destination(manifest, force, inputs)
    with progress(f"Loading {options.model.name}"):
        loaded = load(options)
    plan = plan_for(loaded.inventory, options)
    view = "parameters" if command == "freeze" else "totals"
    report = build_report(command, view, loaded, plan, options, depth=depth, only=only)
    if (save is not None or manifest is not None) and not report.failed_expectations:
        # (a freeze that misses its expectations is not written)
        doc = build_manifest(report.model, plan, loaded.inventory)
        if save is not None:
            from .adapter.save import check_savable

            check_savable(loaded.model, save)
        with progress(f"Writing {' and '.join(p for p in (save, manifest) if p is not None)}"):
            _write_outputs(loaded, plan, doc, save, manifest, force)
    return report


def _input_files(options: AuditOptions) -> tuple[str, ...]:
    """The files this run reads, the torch hub's cached weights file included (--weights)."""
    files = options.input_files()
    if options.weights is not None and parse_source(options.model.name).kind == TORCHVISION:
        from .adapter.weights import cache_path, resolve

        files += (str(cache_path(resolve(options.model.name, options.weights))),)
    return files


def _write_outputs(loaded: Loaded, plan, doc: dict, save: str | None, manifest: str | None, force: bool) -> None:
    """Both files are written in full to temp files, then renamed into place together: a failure
    or an interrupt at any point leaves both old files (or none) in place, never a mixed pair."""
    outputs = [p for p in (save, manifest) if p is not None]
    names = " and ".join(outputs)
    try:
        with atomic_paths(outputs, force) as tmps:
            if save is not None:
                from .adapter.save import write_weights

                apply_to_model(loaded.model, plan)
                write_weights(loaded.model, tmps[0], save, doc)
            if manifest is not None:
                tmps[-1].write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{names}: cannot write: {exc.strerror or exc}; nothing was written") from exc


def run_check(manifest_path: str, model: str | None, trust_pickle: bool = False,
              progress: Progress = quiet) -> tuple[Drift, Report]:
    """Re-resolve the manifest's own rules, on its model (or MODEL), with its weights, and compare."""
    m = load_manifest(manifest_path)
    if model is None and m.model.kind == "python":
        raise UsageError(f"{manifest_path}: written from Python for a {m.model.source} object; "
                         "name the model to check: freezekit check MANIFEST MODEL")
    spec = m.model_spec if model is None else ModelSpec(model, dict(m.model.args) if model == m.model.source else {})
    options = AuditOptions(model=spec, rules=m.rules, default=m.default, strict=False, weights=m.model.weights,
                           weights_file=m.model.weights_file, trust_pickle=trust_pickle)
    with progress(f"Loading {spec.name}"):
        loaded = load(options)
    plan = plan_for(loaded.inventory, options)
    report = build_report("check", "totals", loaded, plan, options)
    return compare(m, plan, loaded.inventory), report
