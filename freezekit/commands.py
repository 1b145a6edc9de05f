"""What the commands do between parsed options and a report: load, plan, write, compare."""
from __future__ import annotations

import json

from .atomic_write import check_destination, write_text
from .audit import AuditOptions, Loaded, apply_to_model, build_report, load, plan_for
from .config import ModelSpec
from .errors import UsageError
from .manifest import Drift, build_manifest, compare, load_manifest
from .progress import status
from .report import Report
from .sources import parse_source


def load_with_status(options: AuditOptions) -> Loaded:
    with status(f"Loading {options.model.name}"):
        return load(options)


def _inputs(options: AuditOptions) -> tuple[str, ...]:
    return tuple(x for x in (options.weights_file, options.model.name) if x)


def run_audit(command: str, options: AuditOptions, *, depth: int | None = None, only: str | None = None,
              save: str | None = None, manifest: str | None = None, force: bool = False) -> Report:
    # Refuse bad destinations before any work: a failed run writes nothing.
    if save and parse_source(options.model.name).is_checkpoint:
        raise UsageError("--save needs a model to take weights from; MODEL is a checkpoint file")
    if save:
        from .adapter.save import check_save_path

        check_save_path(save)
        check_destination(save, force, _inputs(options))
    if manifest:
        check_destination(manifest, force, _inputs(options))
        if save and check_destination(save, True).resolve() == check_destination(manifest, True).resolve():
            raise UsageError("--save and --manifest name the same file")
    loaded = load_with_status(options)
    plan = plan_for(loaded.inventory, options)
    view = "parameters" if command == "freeze" else "totals"
    report = build_report(command, view, loaded, plan, options, depth=depth, only=only)
    if (save or manifest) and not report.failed_expectations:  # a freeze that misses its expectations is not written
        doc = build_manifest(report.model, plan, loaded.inventory)
        if save:
            from .adapter.save import save_weights

            apply_to_model(loaded.model, plan)
            with status(f"Saving {save}"):
                save_weights(loaded.model, save, doc, force)
        if manifest:
            write_text(manifest, json.dumps(doc, indent=1) + "\n", force)
    return report


def check_options(manifest_path: str, model: str | None, trust_pickle: bool = False) -> AuditOptions:
    """Re-resolve the manifest's own rules, on its model (or MODEL), with its weights."""
    m = load_manifest(manifest_path)
    spec = m.model_spec if model is None else ModelSpec(model, dict(m.model.args) if model == m.model.source else {})
    return AuditOptions(model=spec, rules=m.rules, default=m.default, strict=False, weights=m.model.weights,
                        weights_file=m.model.weights_file, trust_pickle=trust_pickle)


def run_check(manifest_path: str, options: AuditOptions) -> tuple[Drift, Report]:
    manifest = load_manifest(manifest_path)
    loaded = load_with_status(options)
    plan = plan_for(loaded.inventory, options)
    report = build_report("check", "totals", loaded, plan, options)
    return compare(manifest, plan, loaded.inventory), report
