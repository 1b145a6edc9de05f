"""Every registered source kind is parsed, loaded and described for real (the registry stays honest)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from freezekit.sources.registry import SOURCES, parse_source, source_type
from freezekit.sources.spec import SourceKind

TINY = "import torch.nn as nn\n\ndef build(width=3):\n    return nn.Sequential(nn.Linear(width, 2), nn.Linear(2, 1))\n"
TINY_TOTAL = 3 * 2 + 2 + 2 + 1  # Linear(3, 2) and Linear(2, 1)


def _state() -> dict[str, torch.Tensor]:
    return {k: v.contiguous() for k, v in nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1)).state_dict().items()}


def _file_factory(tmp: Path) -> str:
    (tmp / "tiny.py").write_text(TINY)
    return f"{tmp / 'tiny.py'}:build"


def _safetensors(tmp: Path) -> str:
    save_file(_state(), str(tmp / "tiny.safetensors"))
    return str(tmp / "tiny.safetensors")


def _index(tmp: Path) -> str:
    state = _state()
    save_file({k: v for k, v in state.items() if k.startswith("0.")}, str(tmp / "a.safetensors"))
    save_file({k: v for k, v in state.items() if k.startswith("1.")}, str(tmp / "b.safetensors"))
    weight_map = {k: ("a" if k.startswith("0.") else "b") + ".safetensors" for k in state}
    (tmp / "tiny.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return str(tmp / "tiny.safetensors.index.json")


def _hf_folder(tmp: Path) -> str:
    """A 2-layer Llama's config.json (hidden 8, 2 heads, 1 KV head, vocab 16, tied): 8*16 embedding once,
    2 layers of q/o 8*8, k/v 8*4, MLP 3*8*16, two norms; the final norm."""
    (tmp / "config.json").write_text(
        json.dumps(
            {
                "architectures": ["LlamaForCausalLM"],
                "model_type": "llama",
                "hidden_size": 8,
                "intermediate_size": 16,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "num_key_value_heads": 1,
                "vocab_size": 16,
                "tie_word_embeddings": True,
            }
        )
    )
    return f"hf:{tmp}"


HF_TOTAL = 16 * 8 + 2 * (2 * 8 * 8 + 2 * 8 * 4 + 3 * 8 * 16 + 2 * 8) + 8


def _state_dict(tmp: Path) -> str:
    torch.save(_state(), tmp / "tiny.pt")
    return str(tmp / "tiny.pt")


# kind -> (MODEL string written into tmp, parameter total, builds a model, reads a file, cacheable, runs code);
# "reads a file" is True when the file is spec.ref, or the files themselves
EXAMPLES: dict[SourceKind, tuple[Callable[[Path], str], int, bool, bool | Callable[[Path], tuple], bool, bool]] = {
    SourceKind.TIMM: (lambda tmp: "timm:lcnet_050", 1_880_856, True, False, True, False),
    SourceKind.HF: (_hf_folder, HF_TOTAL, True, lambda tmp: (str(tmp / "config.json"),), True, False),
    SourceKind.TORCHVISION: (lambda tmp: "resnet18", 11_689_512, True, False, True, False),
    SourceKind.FACTORY: (lambda tmp: "tests.models_for_tests:build_tied", 60, True, False, False, True),
    SourceKind.FILE_FACTORY: (_file_factory, TINY_TOTAL, True, True, True, True),
    SourceKind.SAFETENSORS: (_safetensors, TINY_TOTAL, False, True, False, False),
    SourceKind.SAFETENSORS_INDEX: (_index, TINY_TOTAL, False, True, False, False),
    SourceKind.STATE_DICT: (_state_dict, TINY_TOTAL, False, True, False, False),
}


def test_every_kind_but_python_is_registered_and_has_an_example():
    assert set(SOURCES) == set(SourceKind) - {SourceKind.PYTHON}
    assert set(EXAMPLES) == set(SOURCES)


@pytest.mark.parametrize("kind", list(SOURCES), ids=lambda k: k.value)
def test_each_registered_kind_parses_loads_and_describes_itself(kind, tmp_path):
    make, total, builds, reads_file, cacheable, runs_code = EXAMPLES[kind]
    text = make(tmp_path)
    spec = parse_source(text)
    assert spec.kind is kind and spec.text == text
    module = source_type(kind)
    loaded = module.load(spec, materialize=False)
    assert sum(p.numel for p in loaded.inventory.params) == total
    assert module.builds_model(spec) is builds
    assert (loaded.model is not None) is builds
    expected = reads_file(tmp_path) if callable(reads_file) else ((spec.ref,) if reads_file else ())
    assert module.input_files(spec) == expected
    assert (module.cache_identity(spec) is not None) is cacheable
    assert module.runs_code(spec) is runs_code


@pytest.mark.parametrize(
    "text, kind, ref, attr",
    [
        ("vgg16", SourceKind.TORCHVISION, "vgg16", ""),
        ("torchvision.models:vgg16", SourceKind.FACTORY, "torchvision.models", "vgg16"),
        ("dir/m.py:build", SourceKind.FILE_FACTORY, "dir/m.py", "build"),
        ("C.SAFETENSORS", SourceKind.SAFETENSORS, "C.SAFETENSORS", ""),
        ("s3:bucket/m.safetensors", SourceKind.SAFETENSORS, "s3:bucket/m.safetensors", ""),  # suffix wins over ':'
        ("model.safetensors.index.json", SourceKind.SAFETENSORS_INDEX, "model.safetensors.index.json", ""),
        ("w.bin", SourceKind.STATE_DICT, "w.bin", ""),
        ("w.ckpt", SourceKind.STATE_DICT, "w.ckpt", ""),
        ("m.py:", SourceKind.TORCHVISION, "m.py:", ""),  # no callable: not a factory
        ("timm:vit_base_patch16_224.augreg_in21k", SourceKind.TIMM, "vit_base_patch16_224.augreg_in21k", ""),
        ("hf:meta-llama/Llama-3.1-8B", SourceKind.HF, "meta-llama/Llama-3.1-8B", ""),  # not a factory
        ("hf:shards/model.safetensors.index.json", SourceKind.HF, "shards/model.safetensors.index.json", ""),
    ],
)
def test_the_first_module_that_accepts_the_text_decides(text, kind, ref, attr):
    spec = parse_source(text)
    assert (spec.kind, spec.ref, spec.attr) == (kind, ref, attr)


def test_relative_files_resolve_against_the_config_folder_only(tmp_path):
    assert parse_source("m.py:build", base=tmp_path).ref == str(tmp_path / "m.py")
    assert parse_source("w.pt", base=tmp_path).text == str(tmp_path / "w.pt")
    assert parse_source("/abs/w.pt", base=tmp_path).text == "/abs/w.pt"
    assert parse_source("pkg.mod:build", base=tmp_path).ref == "pkg.mod"
    assert parse_source("vgg16", base=tmp_path).text == "vgg16"


def test_header_only_kinds_never_import_torch(tmp_path):
    path = _index(tmp_path)
    code = (
        "import sys\n"
        "from freezekit.sources.registry import parse_source, source_type\n"
        f"spec = parse_source({path!r})\n"
        "inv = source_type(spec.kind).load(spec, materialize=False).inventory\n"
        "print(len(inv.params), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "4 False"
