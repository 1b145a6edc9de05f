"""A Click parser hook: the order in which -p and -u were given, which Click groups into two lists.

The rules apply in the order they were typed (-p a -u b -p c), but Click hands a command each
repeatable option as one list, and neither callbacks nor the context keep the interleaving. So
the arguments are parsed a second time with the command's own parser (`make_parser`, public in
Click 8 but not in the Typer docs): one more reason typer is pinned to >=0.29,<0.30 in
pyproject.toml; tests/cli/test_app.py checks the order on that version.
"""

from __future__ import annotations

from typing import Any

import typer

from .help_text import FreezekitCommand


class OrderedRulesCommand(FreezekitCommand):
    """Remembers the order of -p/-u occurrences, which Click groups into two lists."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # a typer.Context
        try:
            _, _, order = self.make_parser(ctx).parse_args(args=list(args))
            ctx.meta["rule_order"] = [p.name for p in order if p.name in ("pattern", "unfreeze")]
        except typer.TyperException:  # Click's errors derive from it (Typer 0.29)
            pass  # the real parse below reports it
        return super().parse_args(ctx, args)
