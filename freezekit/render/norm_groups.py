"""The compact BatchNorm summary: one row per (type, affine, statistics, note) group, with a count
and the first layer names, instead of one row per layer (ResNet-152 has 155)."""

from __future__ import annotations

from ..core.name_lists import first_names as core_first_names
from ..core.report import NormRow

FIRST_NAMES = 3  # names shown per group


def affine_text(n: NormRow) -> str:
    return "none" if n.affine_trainable is None else ("trainable" if n.affine_trainable else "frozen")


def norm_groups(norms: tuple[NormRow, ...]) -> list[tuple[NormRow, list[str]]]:
    """Norm layers grouped by (type, affine, statistics, note), in order of first appearance."""
    groups: dict[tuple, tuple[NormRow, list[str]]] = {}
    for n in norms:
        key = (n.type, n.affine_trainable, n.stats_update, n.note)
        groups.setdefault(key, (n, []))[1].append(n.name)
    return list(groups.values())


def first_names(names: list[str]) -> str:
    """'bn1, layer1.0.bn1, layer1.0.bn2 and 50 more': whole names, never cut."""
    return core_first_names(names, FIRST_NAMES)
