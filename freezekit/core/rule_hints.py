"""Why a rule selected nothing, and what the user may have meant: the hints of the no-match error.

- a `type:` whose modules hold no parameters says so;
- an `re:` that would match with re.search says `re:` must match the whole name, and suggests
  `re:.*PATTERN.*`;
- a command-line glob that names a file in the current folder was probably expanded by the shell;
- otherwise the nearest names that hold parameters (a ReLU or a Dropout is never suggested:
  selecting it selects nothing).
"""

from __future__ import annotations

import os
import re

from .records import Inventory
from .suggest import nearest

_GLOB_CHARS = re.compile(r"[*?\[]")  # as in rules.py (which imports this module: no cycle back)


def no_match_reason(
    inventory: Inventory, kind: str, body: str, origin: str, candidates: list[str], modules: list[str], names: list[str]
) -> str:
    if kind == "type" and any(m.is_a(body) for m in inventory.modules):
        return f"modules of type {body} hold no parameters"
    if kind == "re":
        searched = re.compile(body).search
        if any(searched(name) for name in candidates):
            return (
                f"re: must match the whole name (re.fullmatch), and '{body}' only occurs inside names; "
                f"did you mean 're:.*{body}.*'?"
            )
    if origin in ("--pattern", "--unfreeze") and kind == "glob" and os.path.isfile(body):
        return (
            f"no name matches, and '{body}' is a file in this folder: the shell may have expanded an "
            f"unquoted glob; quote the pattern (-p 'features.*')"
        )
    hint = suggestions(inventory, kind, body, modules, names)
    return "no name matches" + (f"; nearest names: {', '.join(hint)}" if hint else "")


def suggestions(inventory: Inventory, kind: str, body: str, modules: list[str], names: list[str]) -> list[str]:
    """Nearest names that hold parameters (type names for type: rules)."""
    if kind == "type":
        return nearest(body, sorted({p.module_type for p in inventory.params}))
    literal = _GLOB_CHARS.split(body, 1)[0].rstrip(".") if kind == "glob" else body
    holding: set[str] = set()  # modules holding parameters, themselves or below
    for module in {p.module for p in inventory.params}:
        parts = module.split(".")
        holding.update(".".join(parts[:k]) for k in range(1, len(parts) + 1))
    return nearest(literal, [m for m in modules if m in holding]) or nearest(literal, names)
