import pytest
import torch
import torchvision

from freezekit.adapter.inventory import apply_plan, inventory_of
from freezekit.core.plan import make_plan
from freezekit.core.rules import Rule
from freezekit.core.totals import compute_totals
from freezekit.pipeline.audit import load
from freezekit.pipeline.settings import Settings
from freezekit.sources.registry import parse_source

from ..models_for_tests import TiedNet

CLASSIFICATION = sorted(
    set(torchvision.models.list_models(module=torchvision.models))
    - {
        n
        for fam in ("detection", "segmentation", "video", "optical_flow", "quantization")
        for n in torchvision.models.list_models(module=getattr(torchvision.models, fam))
    }
)


def test_tied_weight_counted_once_with_alias():
    inv = inventory_of(TiedNet())
    by_name = {p.name: p for p in inv.params}
    assert by_name["embed.weight"].aliases == ("head.weight",)
    assert "head.weight" not in by_name
    assert sum(p.numel for p in inv.params) == 32 + 20 + 8 == sum(p.numel() for p in TiedNet().parameters())
    assert [b.name for b in inv.buffers] == ["body.2.running_mean", "body.2.running_var", "body.2.num_batches_tracked"]
    assert by_name["body.2.weight"].module_type == "BatchNorm1d"
    assert {m.name: m.bases for m in inv.modules}["body.2"] == ("BatchNorm1d", "_BatchNorm", "_NormBase", "Module")


def test_apply_plan_sets_requires_grad_through_aliases():
    model = TiedNet()
    plan = make_plan(inventory_of(model), [Rule("freeze", "head")])
    apply_plan(model, plan)
    assert not model.embed.weight.requires_grad and not model.head.weight.requires_grad
    assert all(p.requires_grad for p in model.body.parameters())


def test_meta_build_allocates_nothing_and_regnet_falls_back():
    loaded = load(Settings(source=parse_source("regnet_x_400mf"), use_cache=False))
    assert next(loaded.model.parameters()).device.type == "meta"
    assert sum(p.numel for p in loaded.inventory.params) == 5495976
    assert next(load(Settings(source=parse_source("vgg16"), use_cache=False)).model.parameters()).device.type == "meta"


def test_detection_builds_without_backbone_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    loaded = load(Settings(source=parse_source("fasterrcnn_resnet50_fpn"), use_cache=False))
    assert (
        sum(p.numel for p in loaded.inventory.params) == 41808406
    )  # plain BatchNorm2d: no weights, so not FrozenBatchNorm2d
    assert not any(tmp_path.rglob("*.pth"))


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_totals_equal_the_classic_formula(name):
    """Our totals against sum(p.numel() for p in model.parameters() if p.requires_grad) on the real model."""
    try:
        with torch.device("meta"):
            model = torchvision.models.get_model(name, weights=None)
    except NotImplementedError:  # regnets compute on tensors while building: a real CPU build
        model = torchvision.models.get_model(name, weights=None)
    options = Settings(
        source=parse_source(name),
        rules=(Rule("freeze", r"re:.*weight"), Rule("unfreeze", "type:_BatchNorm")),
        allow_unmatched=True,
        use_cache=False,
    )
    loaded = load(options)
    plan = make_plan(loaded.inventory, options.rules, strict=False)
    apply_plan(model, plan)
    totals = compute_totals(plan, loaded.inventory)
    assert totals.trainable == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert totals.total == sum(p.numel() for p in model.parameters())
    assert totals.frozen == sum(p.numel() for p in model.parameters() if not p.requires_grad) > 0


def test_meta_fallback_keeps_tied_weights_tied():
    from pathlib import Path

    factory = f"{Path(__file__).parents[1] / 'models_for_tests.py'}:build_tied_needing_values"
    loaded = load(Settings(source=parse_source(factory), use_cache=False))
    assert next(loaded.model.parameters()).device.type == "meta"  # the fallback ran
    assert loaded.model.head.weight is loaded.model.embed.weight
    assert sum(p.numel for p in loaded.inventory.params) == 60 == sum(p.numel() for p in TiedNet().parameters())
