"""`--format line`: exactly one line, in the shape of PEFT's `print_trainable_parameters()`,
so it can be pasted where PEFT's line went:

    trainable params: 123,642,856 || all params: 138,357,544 || trainable%: 89.3647

Same numbers (distinct parameter tensors, buffers excluded) and PEFT's rounding rule:
`f"{100 * trainable / total:.4f}"` (0.0000 for an empty model, where PEFT would divide by zero).
"""

from __future__ import annotations

from typing import TextIO

from ..core.report import Report
from .view import View


def peft_line(report: Report) -> str:
    t = report.totals
    pct = 100 * t.trainable / t.total if t.total else 0.0
    return f"trainable params: {t.trainable:,d} || all params: {t.total:,d} || trainable%: {pct:.4f}"


def write_line(report: Report, view: View, out: TextIO) -> None:
    out.write(peft_line(report) + "\n")
