"""Regular expressions from files run under a time budget (issue 20, class 9); the user's own do not."""

from __future__ import annotations

import threading
import time

import pytest

from freezekit.core import time_budget as budget
from freezekit.core.config import load_config
from freezekit.core.manifest import _rules as manifest_rules
from freezekit.core.plan import make_plan
from freezekit.core.records import Inventory, ModuleRecord, ParamRecord
from freezekit.core.rules import Rule
from freezekit.errors import ExitCode, RuleError

CATASTROPHIC = r"re:((\w|\.)+)+X"  # nested repetition: 2^n ways to split an n-character name, none ends in X
LONG_NAME = "encoder.layers.encoder_layer_11.mlp.0.weight"  # vit_b_16's: years of backtracking


def _inventory() -> Inventory:
    param = ParamRecord(LONG_NAME, (4,), "float32", "encoder.layers.encoder_layer_11.mlp.0", "Linear")
    modules = (ModuleRecord("", "Net", ("Net", "Module")),)
    return Inventory((param,), (), modules, False, "net")


def test_a_catastrophic_pattern_from_a_file_stops_within_its_budget(monkeypatch):
    monkeypatch.setattr(budget, "REGEX_BUDGET_S", 0.5)
    rule = Rule("freeze", CATASTROPHIC, "recipe.yaml: rules[0].freeze", from_file=True)
    started = time.monotonic()
    with pytest.raises(RuleError) as caught:
        make_plan(_inventory(), [rule])
    assert time.monotonic() - started < 5
    assert str(caught.value) == (
        rf"rule 'freeze {CATASTROPHIC}' (recipe.yaml: rules[0].freeze): the regular expression did not finish "
        "matching the model's names within 0.5 s (it backtracks catastrophically); simplify it"
    )
    assert caught.value.exit_code == ExitCode.RULE


def test_a_pattern_within_its_budget_keeps_fullmatch_semantics(monkeypatch):
    monkeypatch.setattr(budget, "REGEX_BUDGET_S", 5.0)
    plan = make_plan(_inventory(), [Rule("freeze", r"re:encoder\..*", "f", from_file=True)], strict=False)
    assert [d.trainable for d in plan.decisions] == [False]
    plan = make_plan(_inventory(), [Rule("freeze", "re:mlp", "f", from_file=True)], strict=False)
    assert [d.trainable for d in plan.decisions] == [True]  # fullmatch: 'mlp' only occurs inside the name
    assert "re: must match the whole name" in plan.warnings[0]


def test_the_budget_leaves_no_timer_behind():
    with budget.time_budget(5.0, lambda: RuleError("spent")):
        pass
    import signal

    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)


def test_off_the_main_thread_there_is_no_budget():
    seen = []

    def work():
        with budget.time_budget(0.01, lambda: RuleError("spent")):
            time.sleep(0.1)
            seen.append("done")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(5)
    assert seen == ["done"]


def test_rules_read_from_files_carry_the_mark(tmp_path):
    (tmp_path / "recipe.yaml").write_text("rules:\n  - freeze: 're:a.*'\n")
    assert [r.from_file for r in load_config(tmp_path / "recipe.yaml").rules] == [True]
    claimed = manifest_rules("m.json", [{"action": "freeze", "pattern": "re:a.*", "origin": "--pattern"}])
    assert [r.from_file for r in claimed] == [True]  # whatever origin the manifest claims
    assert Rule("freeze", "x", "--pattern") == Rule("freeze", "x", "--pattern", from_file=True)  # not in equality


def test_an_outer_timer_is_put_back_with_what_was_left_of_it(monkeypatch):
    import signal

    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append("outer"))
    signal.setitimer(signal.ITIMER_REAL, 30.0)
    try:
        monkeypatch.setattr(budget, "REGEX_BUDGET_S", 0.3)
        with pytest.raises(RuleError, match="within 0.3 s"):
            make_plan(_inventory(), [Rule("freeze", CATASTROPHIC, "f", from_file=True)])
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 25 < left < 30 and fired == []
        signal.getsignal(signal.SIGALRM)(signal.SIGALRM, None)  # the outer handler is back
        assert fired == ["outer"]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
