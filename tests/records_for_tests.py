"""Hand-built inventories for the pure tests (no torch)."""

from __future__ import annotations

from freezekit.core.records import BufferRecord, Inventory, ModuleRecord, ParamRecord

CONV = ("Conv2d", "_ConvNd", "Module")
BN = ("BatchNorm2d", "_BatchNorm", "_NormBase", "Module")
LIN = ("Linear", "Module")
SEQ = ("Sequential", "Module")


def mini_vgg() -> Inventory:
    """features.{0,2,10} convs, features.1 a ReLU (no parameters), features.3 a BN, classifier.0 a Linear."""
    modules = [ModuleRecord("", "Net", ("Net", "Module")), ModuleRecord("features", "Sequential", SEQ)]
    params = []
    for idx, kind in ((0, CONV), (1, ("ReLU", "Module")), (2, CONV), (3, BN), (10, CONV)):
        name = f"features.{idx}"
        modules.append(ModuleRecord(name, kind[0], kind))
        if kind is CONV:
            params += [
                ParamRecord(f"{name}.weight", (4, 4, 3, 3), "float32", name, "Conv2d"),
                ParamRecord(f"{name}.bias", (4,), "float32", name, "Conv2d"),
            ]
        if kind is BN:
            params += [
                ParamRecord(f"{name}.weight", (4,), "float32", name, "BatchNorm2d"),
                ParamRecord(f"{name}.bias", (4,), "float32", name, "BatchNorm2d"),
            ]
    modules += [ModuleRecord("classifier", "Sequential", SEQ), ModuleRecord("classifier.0", "Linear", LIN)]
    params += [
        ParamRecord("classifier.0.weight", (10, 4), "float32", "classifier.0", "Linear"),
        ParamRecord("classifier.0.bias", (10,), "float16", "classifier.0", "Linear"),
    ]
    buffers = (
        BufferRecord("features.3.running_mean", (4,), "float32", "features.3"),
        BufferRecord("features.3.running_var", (4,), "float32", "features.3"),
        BufferRecord("features.3.num_batches_tracked", (), "int64", "features.3"),
    )
    return Inventory(tuple(params), buffers, tuple(modules), True, "mini_vgg")


# numel: features.0 = 144 + 4, features.2 = 148, features.3 = 8, features.10 = 148, classifier.0 = 40 + 10
MINI_TOTAL = 148 * 3 + 8 + 50
