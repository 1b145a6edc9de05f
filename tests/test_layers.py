"""The package's shape: no import cycle between modules, and each layer imports only what is below it.

Every import counts, the ones inside functions and under TYPE_CHECKING too: a cycle through a
lazy import is still a design cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "freezekit"

# layer -> the freezekit packages and top-level modules it may import (besides itself)
ALLOWED = {
    "errors": set(),
    "text_files": {"errors"},
    "atomic_write": {"errors"},
    "bounded_read": {"errors"},
    "code_trust": {"errors"},
    "core": {"errors", "text_files", "bounded_read"},
    "sources": {"errors", "text_files", "bounded_read", "code_trust", "atomic_write", "core", "adapter"},
    "adapter": {"errors", "text_files", "bounded_read", "code_trust", "core", "sources"},
    "compare": {"errors", "bounded_read", "core", "sources", "adapter"},
    "pipeline": {"errors", "text_files", "atomic_write", "core", "sources", "adapter", "compare"},
    "verify": {"errors", "core", "sources", "adapter", "pipeline"},
    "render": {"errors", "atomic_write", "core", "verify", "compare"},
    "distributed": {"errors", "core", "sources", "adapter", "pipeline", "verify", "render"},
    "training": {"errors", "atomic_write", "core", "sources", "adapter", "pipeline", "render", "api"},
    "integrations": {"errors", "core", "training", "adapter"},
}
THIRD_PARTY_TORCH = ("torch", "torchvision", "safetensors.torch")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(freezekit modules, other top-level names) that `path` imports anywhere in its body."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    inner, outer = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (inner if alias.name.startswith("freezekit") else outer).add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("freezekit"):
                outer.add(target)
                continue
            for alias in node.names:  # `from . import zoo` imports a module; `from .x import f` imports x
                candidate = f"{target}.{alias.name}"
                inner.add(candidate if _exists(candidate) else target)
    return inner, outer


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: _imports(path)[0] - {name} for name, path in MODULES.items()}


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else "freezekit"


def test_no_import_cycle():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == 1:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(target) :] + [target]))
            if target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in MODULES:
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_is_below_it(layer):
    for module, targets in GRAPH.items():
        if _layer(module) == layer:
            for target in targets:
                assert _layer(target) in ALLOWED[layer] | {layer}, f"{module} imports {target}"


def test_the_core_never_imports_torch():
    for module, path in MODULES.items():
        if _layer(module) == "core":
            torch_imports = {n for n in _imports(path)[1] if n.startswith(THIRD_PARTY_TORCH)}
            assert not torch_imports, f"{module} imports {torch_imports}"


def test_the_top_level_stays_small():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == [
        "__init__.py",
        "__main__.py",
        "api.py",
        "atomic_write.py",
        "bounded_read.py",
        "code_trust.py",
        "errors.py",
        "text_files.py",
    ]


MAX_FUNCTION_LINES = 60  # a screenful; files are split by responsibility, not by size


def test_functions_stay_short():
    """Short functions, not short files: a file cap led to lines folded together to meet it."""
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {lines} lines")
    assert not long, long
