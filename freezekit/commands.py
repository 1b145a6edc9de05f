"""What `freeze` and `count` do between parsed options and a report."""
from __future__ import annotations

from .audit import AuditOptions, build_report, load, plan_for
from .report import Report


def run_audit(command: str, options: AuditOptions, *, depth: int | None = None, only: str | None = None,
              save: str | None = None, manifest: str | None = None, force: bool = False) -> Report:
    loaded = load(options)
    plan = plan_for(loaded.inventory, options)
    view = "parameters" if command == "freeze" else "totals"
    return build_report(command, view, loaded, plan, options, depth=depth, only=only)
