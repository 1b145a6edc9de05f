"""Freeze rules and the selectors they use.

Selection, in one sentence (docs/rules.md says the same): a pattern selects a
parameter when it matches the parameter's full name, or the full name of a
module that contains it. So `features.0` selects `features.0.weight` and
`features.0.bias`, and never `features.10.weight`.

Selector kinds:
  glob          `features.*`     fnmatchcase over the whole name; `*` crosses dots
  regex         `re:layer[12]`   re.fullmatch over the whole name
  module type   `type:_BatchNorm` class name or any base class name of a containing module
  position      `through:layer2` every parameter registered up to and including that module
A tied parameter is selected when any of its names is.
"""

from __future__ import annotations

import bisect
import fnmatch
import itertools
import re
from dataclasses import dataclass, field
from typing import Literal

from ..errors import RuleError
from .choice import Choice
from .name_lists import first_names
from .records import Inventory
from .suggest import did_you_mean

Action = Literal["freeze", "unfreeze"]
ACTIONS: tuple[str, ...] = ("freeze", "unfreeze")
MAX_PATTERN_LENGTH = 1000
_GLOB_CHARS = re.compile(r"[*?\[]")


class RuleKind(Choice):
    """How a rule's pattern selects (docs/rules.md): its prefix, or none for a glob."""

    GLOB = "glob"
    RE = "re"
    TYPE = "type"
    THROUGH = "through"


@dataclass(frozen=True)
class Rule:
    action: Action
    pattern: str
    origin: str = ""  # where it came from: "--pattern", "config.yaml: rules[2]", ...
    # read from a file (a config, a manifest): its regex runs under a time budget (core/time_budget.py);
    # not part of equality, and never read from the origin text, which a manifest may claim freely
    from_file: bool = field(default=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.action} {self.pattern}"

    @property
    def kind(self) -> RuleKind:
        for kind in (RuleKind.RE, RuleKind.TYPE, RuleKind.THROUGH):
            if self.pattern.startswith(kind.value + ":"):
                return kind
        return RuleKind.GLOB

    @property
    def body(self) -> str:
        kind = self.kind
        return self.pattern if kind is RuleKind.GLOB else self.pattern[len(kind.value) + 1 :]

    def describe(self) -> str:
        return f"rule '{self.label}'" + (f" ({self.origin})" if self.origin else "")


def validate_rule(rule: Rule) -> None:
    """Checks that need no model: action, empty pattern, length, regex syntax."""
    if rule.action not in ACTIONS:
        raise RuleError(f"{rule.describe()}: action must be 'freeze' or 'unfreeze'")
    if not rule.pattern or not rule.pattern.strip() or not rule.body.strip():
        raise RuleError(f"{rule.describe()}: the pattern is empty")
    if len(rule.pattern) > MAX_PATTERN_LENGTH:
        raise RuleError(f"{rule.describe()}: the pattern is longer than {MAX_PATTERN_LENGTH} characters")
    if rule.kind is RuleKind.RE:
        try:
            re.compile(rule.body)
        except re.error as exc:
            raise RuleError(f"{rule.describe()}: invalid regular expression: {exc}") from exc


def required_literals(rule: Rule) -> tuple[str, list[str]]:
    """(prefix, other literals): text every name the rule matches must start with, and contain.

    For a glob, the text before the first wildcard and the runs between wildcards; for a
    regex, runs of plain characters at the top level of the parsed pattern (anything
    optional, repeated or alternated breaks a run). ("", []) when nothing is known."""
    if rule.kind is RuleKind.GLOB:
        runs = glob_literal_runs(rule.body)
        return runs[0], [r for r in runs[1:] if r]
    try:
        from re import _parser as sre_parse  # type: ignore[attr-defined]  # CPython's regex parser (3.11+)
    except ImportError:  # pragma: no cover
        import sre_parse
    try:
        parsed = sre_parse.parse(rule.body)
        if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
            return "", []
        runs, current = [], []
        for op, arg in parsed:
            if op is sre_parse.LITERAL:
                current.append(chr(arg))
            else:
                runs.append("".join(current))
                current = []
        runs.append("".join(current))
        return runs[0], [r for r in runs[1:] if r]
    except Exception:  # any surprise in a private API: no narrowing, the match stays exact
        return "", []


def glob_literal_runs(pattern: str) -> list[str]:
    """The literal text between the wildcards of a glob, read exactly as fnmatch.translate reads it:
    `[` opens a class only when a `]` closes it later (a `]` right after `[` or `[!` is a member:
    `layer[]1]` is `layer` + a class), otherwise it is a literal `[`."""
    runs: list[str] = []
    current: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c in "*?":
            runs.append("".join(current))
            current = []
        elif c == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                current.append("[")  # never closed: a literal bracket
            else:
                runs.append("".join(current))
                current = []
                i = j + 1
        else:
            current.append(c)
    runs.append("".join(current))
    return runs


def _after_prefix(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix` (None: no such string,
    the prefix is all U+10FFFF). Appending U+10FFFF instead would miss names holding that very
    character right after the prefix."""
    while prefix and prefix[-1] == "\U0010ffff":
        prefix = prefix[:-1]
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None


class Selector:
    """Resolves rules to parameter indices over one inventory.

    Built once per inventory: every name (parameter names and aliases) sits in a
    sorted list, so "everything inside module M" is one bisect range, and a glob
    with a literal prefix only tests the names that share that prefix.
    """

    def __init__(self, inventory: Inventory):
        self.inventory = inventory
        params = inventory.params
        if any(p.aliases for p in params):
            pairs = sorted((name, i) for i, p in enumerate(params) for name in p.names)
            names, owner = [n for n, _ in pairs], [i for _, i in pairs]
        else:  # the common case, and 100,000-tensor checkpoints: sort indices by name, in C
            unsorted = [p.name for p in params]
            owner = sorted(range(len(unsorted)), key=unsorted.__getitem__)
            names = [unsorted[i] for i in owner]
        self._names, self._owner = names, owner
        self._modules = inventory.module_names()
        known = set(names)
        candidates = list(dict.fromkeys(names))  # sorted already: sort() below merges the modules in
        candidates += [m for m in self._modules if m not in known]
        candidates.sort()
        self._candidates = candidates
        self._text = "\n".join(self._candidates)  # searched with str.find (see _containing)
        self._offsets = [0, *itertools.accumulate(len(name) + 1 for name in self._candidates)]
        self.notes: list[str] = []  # warnings found while selecting (see _select_through)

    def select(self, rule: Rule) -> set[int]:
        validate_rule(rule)
        kind = rule.kind
        if kind in ("type", "through") and not self.inventory.has_modules:
            raise RuleError(
                f"{rule.describe()}: '{kind}:' rules need module information, which a checkpoint file "
                "does not have; use a glob or 're:' rule, or audit the model itself"
            )
        if kind is RuleKind.TYPE:
            return self._select_type(rule)
        if kind is RuleKind.THROUGH:
            return self._select_through(rule)
        return self._select_by_name(rule)

    # -- by name -----------------------------------------------------------
    def _within(self, module: str) -> set[int]:
        """Indices of parameters inside `module` (or equal to it, when it is a parameter name)."""
        lo = bisect.bisect_left(self._names, module)  # the parameter named `module` itself, if any
        found = set(self._owner[lo : bisect.bisect_right(self._names, module, lo)])
        if module == "":
            return set(range(len(self.inventory.params)))
        prefix = module + "."
        lo = bisect.bisect_left(self._names, prefix)
        hi = bisect.bisect_left(self._names, prefix[:-1] + "/")  # "/" sorts right after "."
        found.update(self._owner[lo:hi])
        return found

    def _select_by_name(self, rule: Rule) -> set[int]:
        body = rule.body
        if rule.kind is RuleKind.GLOB and not _GLOB_CHARS.search(body):
            return self._within(body)
        if rule.kind is RuleKind.GLOB:
            matcher = re.compile(fnmatch.translate(body)).match
        else:
            matcher = re.compile(body).fullmatch
        prefix, literals = required_literals(rule)
        lo = bisect.bisect_left(self._candidates, prefix)
        after = _after_prefix(prefix)
        hi = bisect.bisect_left(self._candidates, after) if after is not None else len(self._candidates)
        names = self._containing(literals, lo, hi)
        selected: set[int] = set()
        covered = None  # a matched module: names inside it are already selected
        for name in filter(matcher, names):
            if covered and name.startswith(covered):
                continue
            selected |= self._within(name)
            covered = name + "."
        return selected

    def _containing(self, literals: list[str], lo: int, hi: int) -> list[str]:
        """Candidates[lo:hi], narrowed to those containing the rarest literal every match must contain.

        str.count and str.find over the newline-joined names run in C; the exact matcher then
        only sees the names that can match at all."""
        usable = [lit for lit in literals if len(lit) >= 2 and "\n" not in lit]
        if not usable or lo >= hi:
            return self._candidates[lo:hi]
        text = self._text
        start = self._offsets[lo]
        end = self._offsets[hi] - 1 if hi < len(self._offsets) else len(text)
        count, needle = min((text.count(lit, start, end), lit) for lit in usable)
        if count * 2 > hi - lo:  # most names have it: testing them all is cheaper
            return self._candidates[lo:hi]
        names = []
        at = text.find(needle, start, end)
        while at != -1:
            # the name holding this hit, found by offset: a name may itself contain "\n"
            index = bisect.bisect_right(self._offsets, at) - 1
            names.append(self._candidates[index])
            at = text.find(needle, self._offsets[index + 1], end)  # one hit per name is enough
        return names

    # -- by module ---------------------------------------------------------
    def _module_or_error(self, rule: Rule) -> str:
        name = rule.body
        if name not in {m.name for m in self.inventory.modules}:
            raise RuleError(f"{rule.describe()}: no module named '{name}'{did_you_mean(name, self._modules)}")
        return name

    def _select_type(self, rule: Rule) -> set[int]:
        selected: set[int] = set()
        for m in self.inventory.modules:
            if m.is_a(rule.body):
                selected |= self._within(m.name)
        return selected  # none of that type is a no-match, like a glob that matches nothing

    def _select_through(self, rule: Rule) -> set[int]:
        """Parameters of every module registered up to and including the target, in pre-order.

        Parameters held directly by a module that *contains* the target (ViT's `class_token` on
        the root, CLIP's `logit_scale`) are left out: PyTorch does not record where they were
        registered relative to the submodules, so their position is unknown. They are listed
        in `self.notes`, so the plan can warn that no rule of this kind decided them."""
        target = self._module_or_error(rule)
        order = {m.name: i for i, m in enumerate(self.inventory.modules)}
        # Pre-order: a module's subtree is contiguous, so its last index bounds "up to and including".
        last = max(i for name, i in order.items() if name == target or name.startswith(target + "."))
        parents = {".".join(target.split(".")[:k]) for k in range(len(target.split(".")))}
        selected, skipped = set(), []
        for i, p in enumerate(self.inventory.params):
            if p.module in parents:
                skipped.append(p.name)
            elif order.get(p.module, 0) <= last:
                selected.add(i)
        if skipped:
            self.notes.append(
                f"{rule.describe()} leaves out {len(skipped)} parameter(s) held directly by modules "
                f"that contain '{target}' ({first_names(skipped)}): their position is unknown; add a rule for them"
            )
        return selected

    def no_match_reason(self, rule: Rule) -> str:
        """Why a rule selected nothing, and what is near, for the no-match message (core/rule_hints.py)."""
        from .rule_hints import no_match_reason

        return no_match_reason(
            self.inventory, rule.kind, rule.body, rule.origin, self._candidates, self._modules, self._names
        )
