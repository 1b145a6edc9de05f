"""Number formatting shared by the human-readable renderers."""

from __future__ import annotations


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def share_bar(share: float, width: int = 10) -> str:
    """A text bar of the frozen share: '██████░░░░ 60%'."""
    filled = round(share * width)
    return "█" * filled + "░" * (width - filled) + f" {share * 100:.0f}%"


def shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ")" if shape else "()"


def summary_rows(report) -> list[tuple[str, str]]:  # noqa: ANN001 - Report, kept loose to avoid a cycle
    """The totals, worded like Keras' model.summary() footer (Total / Trainable / Non-trainable params)."""
    t = report.totals
    frozen_pct = 100 - t.trainable_pct if t.total else 0.0
    rows = [
        ("Total params", f"{t.total:,} ({human_bytes(t.bytes)})"),
        ("Trainable params", f"{t.trainable:,} ({t.trainable_pct:.2f}%, {human_bytes(t.trainable_bytes)})"),
        ("Non-trainable params", f"{t.frozen:,} ({frozen_pct:.2f}%, {human_bytes(t.frozen_bytes)})"),
        ("Tensors", f"{t.tensors:,} ({t.trainable_tensors:,} trainable, {t.frozen_tensors:,} frozen)"),
        ("Buffers (not parameters)", f"{t.buffers:,} in {t.buffer_tensors:,} tensors"),
    ]
    if len(t.bytes_by_dtype) > 1:
        rows.append(("Size by dtype", ", ".join(f"{k} {human_bytes(v)}" for k, v in t.bytes_by_dtype.items())))
    return rows


def bound_text(name: str, expected: float) -> str:
    """An expectation as the bound it is: '== 123,642,856' for counts, '<= 95%' for the share."""
    return f"<= {expected:g}%" if name == "max_trainable_pct" else f"== {int(expected):,}"


def actual_text(name: str, actual: float) -> str:
    return f"{actual:.2f}%" if name == "max_trainable_pct" else f"{int(actual):,}"


def expectation_cells(report) -> list[tuple[str, str, str, str]]:  # noqa: ANN001
    """(expectation, bound, actual, result) per expectation."""
    return [
        (e.name, bound_text(e.name, e.expected), actual_text(e.name, e.actual), "ok" if e.ok else "FAILED")
        for e in report.expectations
    ]
