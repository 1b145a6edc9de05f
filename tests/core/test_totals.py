"""Totals and the per-module rows, on hand-built records (no torch)."""

import pytest

from freezekit.core.plan import make_plan
from freezekit.core.rules import Rule
from freezekit.core.totals import by_depth, compute_totals

from ..records_for_tests import MINI_TOTAL, mini_vgg


def test_totals_exact():
    inv = mini_vgg()
    t = compute_totals(make_plan(inv, [Rule("freeze", "features.*")]), inv)
    assert (t.total, t.trainable, t.frozen) == (MINI_TOTAL, 50, MINI_TOTAL - 50)
    assert (t.tensors, t.trainable_tensors, t.frozen_tensors) == (10, 2, 8)
    assert t.bytes == (MINI_TOTAL - 10) * 4 + 10 * 2
    assert t.bytes_by_dtype == {"float16": 20, "float32": (MINI_TOTAL - 10) * 4}
    assert (t.buffers, t.buffer_tensors) == (9, 3)  # never counted as parameters
    assert t.trainable_pct == pytest.approx(100 * 50 / MINI_TOTAL)


def test_depth_rows():
    plan = make_plan(mini_vgg(), [Rule("freeze", "features.0")])
    assert [(r.name, r.total, r.trainable) for r in by_depth(plan, 1)] == [
        ("features", 452, 304),
        ("classifier", 50, 50),
    ]
    assert [r.name for r in by_depth(plan, 2)] == [
        "features.0",
        "features.2",
        "features.3",
        "features.10",
        "classifier.0",
    ]
    assert [(r.name, r.total) for r in by_depth(plan, 0)] == [("", MINI_TOTAL)]
