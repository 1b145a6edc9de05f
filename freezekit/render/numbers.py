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
    t = report.totals
    rows = [
        ("Total parameters", f"{t.total:,}"),
        ("Trainable", f"{t.trainable:,} ({t.trainable_pct:.2f}%)"),
        ("Frozen", f"{t.frozen:,} ({100 - t.trainable_pct if t.total else 0:.2f}%)"),
        ("Tensors (trainable / frozen)", f"{t.tensors:,} ({t.trainable_tensors:,} / {t.frozen_tensors:,})"),
        (
            "Size (trainable / frozen)",
            f"{human_bytes(t.bytes)} ({human_bytes(t.trainable_bytes)} / {human_bytes(t.frozen_bytes)})",
        ),
        ("Buffers (not parameters)", f"{t.buffers:,} in {t.buffer_tensors:,} tensors"),
    ]
    if len(t.bytes_by_dtype) > 1:
        rows.append(("Size by dtype", ", ".join(f"{k} {human_bytes(v)}" for k, v in t.bytes_by_dtype.items())))
    return rows


def expectation_rows(report) -> list[tuple[str, str]]:  # noqa: ANN001
    return [
        ("ok" if e.ok else "FAILED", e.describe() if not e.ok else f"{e.name} = {e.expected:,}")
        for e in report.expectations
    ]
