"""Every format of two models' reports against golden files (tests/render/golden/).

The files are never edited by hand: `python -m pytest tests/render --update-golden` rewrites
them from what the renderers produce now, and the diff is reviewed like code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from freezekit.adapter.inventory import inventory_of
from freezekit.core.batchnorm_policy import BatchNormPolicy
from freezekit.core.plan import make_plan
from freezekit.core.rules import Rule
from freezekit.pipeline.audit import build_report
from freezekit.pipeline.settings import Settings
from freezekit.render import render
from freezekit.render.view import Format, Only, View
from freezekit.sources.registry import parse_source
from freezekit.sources.spec import Loaded

from ..models_for_tests import TiedNet
from ..records_for_tests import mini_vgg

GOLDEN = Path(__file__).parent / "golden"
SUFFIX = {Format.TABLE: "txt", Format.JSON: "json", Format.CSV: "csv", Format.MARKDOWN: "md", Format.LINE: "line"}


def _mini_vgg_report(command: str):
    settings = Settings(
        source=parse_source("mini_vgg"), rules=(Rule("freeze", "features.*"), Rule("unfreeze", "features.10"))
    )
    inventory = mini_vgg()
    return build_report(command, Loaded(inventory), make_plan(inventory, settings.rules), settings)


def _tied_report(command: str):
    settings = Settings(
        source=parse_source("tests.models_for_tests:build_tied"),
        rules=(Rule("freeze", "embed"),),
        batchnorm=BatchNormPolicy.EVAL,
    )
    inventory = inventory_of(TiedNet(), settings.source.text)
    return build_report(command, Loaded(inventory), make_plan(inventory, settings.rules), settings)


MODELS = {"mini_vgg": _mini_vgg_report, "tied": _tied_report}
VIEWS = {
    "freeze": lambda fmt: View(fmt, parameters=True),
    "freeze-trainable": lambda fmt: View(fmt, only=Only.TRAINABLE, parameters=True),
    "count-depth1": lambda fmt: View(fmt, depth=1),
}


@pytest.mark.parametrize("fmt", list(Format), ids=str)
@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("model", list(MODELS))
def test_rendered_output_matches_its_golden_file(golden, model, view, fmt):
    report = MODELS[model](view.partition("-")[0])
    golden(GOLDEN / f"{model}.{view}.{SUFFIX[fmt]}", render(report, VIEWS[view](fmt)))
