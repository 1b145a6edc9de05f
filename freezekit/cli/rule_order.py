"""A Click parser hook: the order in which -p and -u were given, which Click groups into two lists."""

from __future__ import annotations

from typer.core import TyperCommand

from . import clickcompat as click


class OrderedRulesCommand(TyperCommand):
    """Remembers the order of -p/-u occurrences, which Click groups into two lists."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            _, _, order = self.make_parser(ctx).parse_args(args=list(args))
            ctx.meta["rule_order"] = [p.name for p in order if p.name in ("pattern", "unfreeze")]
        except click.ClickException:
            pass  # the real parse below reports it
        return super().parse_args(ctx, args)
