"""Property tests: the rule engine against a naive reference, and fuzzing of the two parsers
that read untrusted text (YAML configs, safetensors headers). Pure: no torch.

The safetensors fuzzing of raw random bytes lives in tests/sources/test_checkpoint.py; here the
headers start valid and are then mutated, which reaches the checks past the JSON parse.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import struct

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from freezekit.core.config import TOP_KEYS, Config, load_config
from freezekit.core.plan import Default, make_plan
from freezekit.core.records import DTYPE_BYTES, Inventory, ModuleRecord, ParamRecord, numel_of
from freezekit.core.rules import Rule
from freezekit.errors import ConfigError, WeightsError
from freezekit.sources.safetensors_header import read_header

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# -- (a) the rule engine agrees with a naive reference ---------------------------------

# Segments overlap on purpose: "1" is a prefix of "10", "a" of "ab"; leaves never name a module.
# The odd ones are names fnmatch handles in ways a hand-written shortcut gets wrong: brackets
# (`]1` for `layer[]1]`), the last code point U+10FFFF (sorts after everything), a newline.
SEGMENTS = ["a", "b", "ab", "0", "1", "10", "x_y", "]1", "[a", "\U0010ffff", "a\U0010ffff", "w\nb"]
LEAVES = ["weight", "bias", "w"]

module_paths = st.lists(st.sampled_from(SEGMENTS), min_size=0, max_size=4).map(".".join)
param_names = st.builds(lambda m, leaf: f"{m}.{leaf}" if m else leaf, module_paths, st.sampled_from(LEAVES))


@st.composite
def inventories(draw) -> Inventory:
    """Unique parameter names, some tied (extra names = aliases); every dotted prefix is a module,
    as in any torch model; the modules are listed in pre-order like named_modules()."""
    names = draw(st.lists(param_names, min_size=1, max_size=12, unique=True))
    params, i = [], 0
    while i < len(names):
        n_alias = draw(st.integers(0, 2)) if draw(st.integers(0, 4)) == 0 else 0
        group = names[i : i + 1 + n_alias]
        i += len(group)
        module = group[0].rpartition(".")[0]
        params.append(
            ParamRecord(
                group[0], (2,), "float32", module, "M", requires_grad=draw(st.booleans()), aliases=tuple(group[1:])
            )
        )
    prefixes = {".".join(n.split(".")[:k]) for p in params for n in p.names for k in range(1, n.count(".") + 1)}
    extra = draw(st.lists(module_paths.filter(bool), max_size=3))  # modules without parameters (a ReLU, say)
    for m in extra:
        prefixes |= {".".join(m.split(".")[:k]) for k in range(1, m.count(".") + 2)}
    prefixes -= {n for p in params for n in p.names}  # a name is a parameter or a module, never both
    modules = [ModuleRecord("", "Root")] + [ModuleRecord(m, "M") for m in sorted(prefixes, key=lambda m: m.split("."))]
    return Inventory(tuple(params), (), tuple(modules), has_modules=True)


GLOB_TOKENS = (
    SEGMENTS
    + LEAVES
    + [
        ".",
        "*",
        "?",
        "[01]",
        "[!a]",
        ".*",
        "*.",
        "[]1]",
        "[!]]",
        "[]",
        "[!]",
        "[",
        "]",
        "[a-",
        "\U0010ffff*",
        "w*",
        "\nb",
    ]
)
globs = st.lists(st.sampled_from(GLOB_TOKENS), min_size=1, max_size=6).map("".join)
REGEX_ATOMS = ["a", "b", "0", "1", "w", "weight", "bias", r"\.", ".", "[a0]", "(a|1)", "(b|10)", r"[^.]"]
regex_pieces = st.tuples(st.sampled_from(REGEX_ATOMS), st.sampled_from(["", "", "*", "+", "?"])).map("".join)
regexes = st.lists(regex_pieces, min_size=1, max_size=6).map(lambda parts: "re:" + "".join(parts))
rules = st.lists(st.builds(Rule, st.sampled_from(["freeze", "unfreeze"]), st.one_of(globs, regexes)), max_size=6)


def naive_plan(inventory: Inventory, rule_list: list[Rule], default: Default) -> list[tuple[bool, str]]:
    """docs/rules.md's sentence, literally: a rule selects a parameter when it matches one of its names
    or a dotted prefix of one that is a module name; the last selecting rule decides."""
    modules = {m.name for m in inventory.modules if m.name}

    def matches(rule: Rule, text: str) -> bool:
        if rule.pattern.startswith("re:"):
            return re.fullmatch(rule.pattern[3:], text) is not None
        return fnmatch.fnmatchcase(text, rule.pattern)

    out = []
    for p in inventory.params:
        if default == "keep":
            state = (p.requires_grad, "default: keep")
        else:
            state = (default == "trainable", f"default: {default}")
        for rule in rule_list:
            candidates = set(p.names)
            for name in p.names:
                parts = name.split(".")
                candidates |= {".".join(parts[:k]) for k in range(1, len(parts))} & modules
            if any(matches(rule, c) for c in candidates):
                state = (rule.action == "unfreeze", rule.label)
        out.append(state)
    return out


@SETTINGS
@given(inventories(), rules, st.sampled_from(list(Default)))
def test_rule_engine_agrees_with_naive_reference(inventory, rule_list, default):
    plan = make_plan(inventory, rule_list, default, strict=False)
    assert [(d.trainable, d.rule) for d in plan.decisions] == naive_plan(inventory, rule_list, default)
    # and each rule's `selected` count is what the reference's single-rule plan selects
    for rule, count in zip(rule_list, plan.selected):
        alone = naive_plan(inventory, [rule], "keep")
        assert count == sum(why == rule.label for _, why in alone)
    unmatched = [r.describe() for r, c in zip(rule_list, plan.selected) if c == 0]
    assert [w.partition(" selects no parameter")[0] for w in plan.warnings if " selects no parameter" in w] == unmatched


# Names and globs over a tiny alphabet of the characters that trip shortcuts, so that collisions
# (a glob class meeting a name bracket, a prefix followed by U+10FFFF) happen in most examples.
ODD_CHARS = ["1", "]", "[", "w", "\U0010ffff", "\n", "."]
odd_names = (
    st.lists(st.sampled_from(ODD_CHARS), min_size=1, max_size=5)
    .map("".join)
    .filter(lambda n: not n.startswith(".") and not n.endswith(".") and ".." not in n)
)
odd_globs = (
    st.lists(st.sampled_from(ODD_CHARS + ["*", "?", "[]1]", "[!]]", "[]w]", "1]", "w*"]), min_size=1, max_size=5)
    .map("".join)
    .filter(str.strip)
)  # a blank pattern is a rule error (exit 7)


def flat_inventory(names: list[str]) -> Inventory:
    """A checkpoint-like inventory: names only, modules inferred from the dots."""
    return Inventory(tuple(ParamRecord(n, (2,), "float32", n.rpartition(".")[0], "") for n in names), has_modules=False)


@SETTINGS
@given(st.lists(odd_names, min_size=1, max_size=8, unique=True), st.lists(odd_globs, min_size=1, max_size=3))
@example(["layer1.w", "layer].w", "layerx.w"], ["layer[]1].*"])
@example(["w\U0010ffff", "w\U0010ffff.1", "w1"], ["w*"])
@example(["1\nww.w", "ww"], ["*ww*"])
def test_glob_selection_equals_fnmatchcase_on_odd_names(names, globs):
    names = [n for n in names if not any(m.startswith(n + ".") for m in names)]  # a name is a parameter or a module
    inventory = flat_inventory(names)
    modules = {".".join(n.split(".")[:k]) for n in names for k in range(1, n.count(".") + 1)}
    for glob in globs:
        plan = make_plan(inventory, [Rule("freeze", glob)], Default.TRAINABLE, strict=False)
        expected = [
            not any(fnmatch.fnmatchcase(c, glob) for c in {n} | {m for m in modules if n.startswith(m + ".")})
            for n in names
        ]
        assert [d.trainable for d in plan.decisions] == expected, glob


def test_reference_catches_a_prefix_leak():
    """The reference itself can fail: `a.1` must not select `a.10.w` (guards against a vacuous property)."""
    inv = Inventory(
        (ParamRecord("a.10.w", (2,), "float32", "a.10", "M"),),
        modules=(ModuleRecord("", "R"), ModuleRecord("a", "M"), ModuleRecord("a.10", "M")),
    )
    assert naive_plan(inv, [Rule("freeze", "a.1")], Default.TRAINABLE) == [(True, "default: trainable")]
    assert naive_plan(inv, [Rule("freeze", "a.1*")], Default.TRAINABLE) == [(False, "freeze a.1*")]
    plan = make_plan(inv, [Rule("freeze", "a.1")], strict=False)
    assert plan.decisions[0].trainable and plan.selected == (0,)


# -- (b) any YAML text either loads or raises ConfigError ----------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(
        [
            "vgg16",
            "features.*",
            "re:(",
            "re:a.*",
            "through:x",
            "type:Conv2d",
            "",
            "keep",
            "frozen",
            "freeze",
            "unfreeze",
            "2001-13-45",
            "0x1F",
            "1e3",
            ".inf",
        ]
    ),
)
keys = st.one_of(
    st.sampled_from(
        list(TOP_KEYS)
        + ["name", "factory", "args", "freeze", "unfreeze", "trainable", "frozen", "total", "max_trainable_pct"]
    ),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)
NASTY = [
    "&a [1]",
    "*a",
    "!!int zz",
    "!!bool maybe",
    "!!timestamp x",
    "!!python/name:os.system",
    "!!binary @@",
    "? [a]\n: b",
    "\t",
    "\x00",
    "\x85",
    "\ufeff",
    "[" * 40,
    "{a: " * 20,
    "%YAML 1.1\n---",
    "---\n---",
    "'",
    '"\\x',
    "- ",
    ": ",
    "#",
    "\n  - freeze: ",
    "|\n  x",
    ">-\n",
    "!<tag:x> y",
    "!!set {a}",
    "!!omap [a]",
    "<<: {a: 1}",
]


@st.composite
def yaml_texts(draw) -> str:
    kind = draw(st.integers(0, 2))
    if kind == 0:  # a well-formed document, often shaped like a config
        return yaml.safe_dump(draw(documents), allow_unicode=draw(st.booleans()))
    if kind == 1:  # raw text, heavy on YAML punctuation
        alphabet = st.one_of(
            st.sampled_from(list(":-[]{}&*!|>'\"#%@`,?\n\t ")), st.characters(blacklist_categories=("Cs",))
        )
        return draw(st.text(alphabet, max_size=80))
    # a valid document with nasty fragments spliced in
    text = yaml.safe_dump(draw(documents))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(NASTY)) + text[at:]
    return text


@SETTINGS
@given(yaml_texts())
def test_any_yaml_either_loads_or_raises_config_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("yaml") / "c.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        assert isinstance(load_config(path), Config)
    except ConfigError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)


# -- (c) safetensors headers: valid, then mutated -------------------------------------------

DTYPE_SIZES = {"F32": 4, "F16": 2, "BF16": 2, "U8": 1, "I64": 8, "BOOL": 1}


@st.composite
def valid_headers(draw) -> tuple[dict, int]:
    names = draw(st.lists(st.text("ab.01", min_size=1, max_size=6), min_size=1, max_size=5, unique=True))
    header, offset = {}, 0
    for name in names:
        dtype = draw(st.sampled_from(sorted(DTYPE_SIZES)))
        shape = draw(st.lists(st.integers(0, 3), max_size=3))
        size = DTYPE_SIZES[dtype]
        for d in shape:
            size *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    if draw(st.booleans()):
        header["__metadata__"] = {"format": "pt"}
    return header, offset


MUTATION_VALUES = [None, True, -1, 0, 1, 2**64, 1.5, "x", "F32", [], [0], [0, 1, 2], [-1, 4], {}, {"a": 1}, [[1]]]


@st.composite
def mutated_files(draw) -> bytes:
    header, data_size = draw(valid_headers())
    names = [n for n in header if n != "__metadata__"]
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(names))
        field = draw(st.sampled_from(["dtype", "shape", "data_offsets", None]))
        value = copy.deepcopy(draw(st.sampled_from(MUTATION_VALUES)))  # never mutate the shared constants
        if field is None:
            header[name] = value
        elif isinstance(header[name], dict):
            if draw(st.booleans()):
                header[name][field] = value
            else:
                header[name].pop(field, None)
    raw = json.dumps(header).encode()
    data = b"\0" * data_size
    cut = draw(st.sampled_from(["none", "none", "length", "bytes", "data"]))
    length = len(raw)
    if cut == "length":  # the length field lies
        length = draw(st.sampled_from([0, 1, len(raw) - 1, len(raw) + 1, len(raw) + data_size + 9, 2**63, 2**64 - 1]))
    blob = struct.pack("<Q", max(length, 0)) + raw + data
    if cut == "bytes":  # flip or drop bytes anywhere in the file
        pos = draw(st.integers(0, len(blob) - 1))
        blob = blob[:pos] + bytes([draw(st.integers(0, 255))]) + blob[pos + draw(st.integers(0, 2)) :]
    elif cut == "data":  # truncate inside the data
        blob = blob[: 8 + len(raw) + draw(st.integers(0, max(data_size - 1, 0)))]
    return blob


@SETTINGS
@given(mutated_files())
def test_mutated_safetensors_headers_parse_or_raise_weights_error_quickly(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("st") / "m.safetensors"
    path.write_bytes(blob)
    try:
        header = read_header(path)
    except WeightsError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
    else:  # what parsed is consistent: distinct names whose bytes all fit in the data part
        n = int.from_bytes(blob[:8], "little")
        assert len({t.name for t in header.tensors}) == len(header.tensors)
        assert sum(numel_of(t.shape) * DTYPE_BYTES[t.dtype] for t in header.tensors) <= len(blob) - 8 - n


@pytest.mark.parametrize("header_size", [0, 1, 100])
def test_valid_header_roundtrip(tmp_path, header_size):
    """The unmutated strategy output parses (so the mutations above start from valid files)."""
    header = {f"t{i}": {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]} for i in range(header_size)}
    path = tmp_path / "ok.safetensors"
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * header_size)
    assert [t.name for t in read_header(path).tensors] == list(header)


@settings(max_examples=50, deadline=None)
@given(valid_headers())
def test_unmutated_headers_always_parse(tmp_path_factory, made):
    header, data_size = made
    path = tmp_path_factory.mktemp("ok") / "v.safetensors"
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * data_size)
    parsed = read_header(path)
    assert [t.name for t in parsed.tensors] == [n for n in header if n != "__metadata__"]
