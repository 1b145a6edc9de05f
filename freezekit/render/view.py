"""How to show a report: the format, and which rows (per parameter, per module at a depth, frozen or trainable only).

The Report is what a command found; a View is how the user asked to see it. Renderers take both.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.choice import Choice
from ..core.plan import Decision
from ..core.report import Report
from ..core.totals import ModuleRow, by_depth


class Format(Choice):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"


class Only(Choice):
    FROZEN = "frozen"
    TRAINABLE = "trainable"


@dataclass(frozen=True)
class View:
    format: Format = Format.TABLE
    depth: int | None = None  # aggregate by module at this depth
    only: Only | None = None  # show only frozen or only trainable rows
    parameters: bool = False  # a row per parameter (freeze), else totals only (count, check)

    def decisions(self, report: Report) -> tuple[Decision, ...]:
        if self.only is None:
            return report.plan.decisions
        want = self.only is Only.TRAINABLE
        return tuple(d for d in report.plan.decisions if d.trainable == want)

    def modules(self, report: Report) -> tuple[ModuleRow, ...]:
        """The rows at `depth` (none without a depth), filtered by `only`."""
        rows = by_depth(report.plan, self.depth) if self.depth is not None else ()
        if self.only is Only.TRAINABLE:
            return tuple(r for r in rows if r.trainable)
        if self.only is Only.FROZEN:
            return tuple(r for r in rows if r.frozen)
        return rows
