"""How big a model an hf: config.json asks for, estimated from its numbers before anything is built.

A config is data from a file: 300 bytes with `num_hidden_layers: 1000000` would start building a
million layers (5,000 already take seconds and a gigabyte), and `hidden_size: 10**12` asks for
tensors past what torch can index. As safetensors headers are capped at 1,000,000 tensors, a config
is refused when its estimate passes a limit far above every published model, with one line naming
the key path. adapter/build_budget.py is the backstop for sizes this estimate does not know.

The estimate walks the config and every nested config (`text_config`, `vision_config`, ...): per
config, layers x (modules per layer + modules per expert x experts), and for parameters
layers x (4 h^2 + 3 h i x experts) + vocabulary x h.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..errors import ModelError, quoted

MAX_MODULES = 100_000  # DeepSeek-V3 with one module per expert: about 62,000
MAX_PARAMETERS = 10**14  # 50x the largest published model
MODULES_PER_LAYER = 16  # a transformer block: 4 attention projections, 3 MLP, 2 norms, and their parents
MODULES_PER_EXPERT = 4
MAX_DEPTH = 8  # nested configs deeper than this are not walked (the JSON reader caps nesting itself)
LAYER_KEYS = (
    "num_hidden_layers",
    "num_layers",
    "n_layer",
    "n_layers",
    "encoder_layers",
    "decoder_layers",
    "num_encoder_layers",
    "num_decoder_layers",
)
EXPERT_KEYS = ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts")
WIDTH_KEYS = ("hidden_size", "d_model", "n_embd", "dim")
INNER_KEYS = ("intermediate_size", "ffn_dim", "encoder_ffn_dim", "decoder_ffn_dim", "n_inner", "d_ff")
VOCAB_KEYS = ("vocab_size",)


def _configs(config: dict[str, Any], path: str = "", depth: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key path prefix, dict) for the config and every dict nested in it."""
    yield path, config
    if depth >= MAX_DEPTH:
        return
    for key, value in config.items():
        if isinstance(value, dict):
            yield from _configs(value, f"{path}{key}.", depth + 1)


def _numbers(config: dict[str, Any], keys: tuple[str, ...]) -> list[tuple[str, int]]:
    """The keys among `keys` that hold a positive int (bool is not a count; other values transformers judges)."""
    return [(k, config[k]) for k in keys if type(config.get(k)) is int and config[k] > 0]


def _estimate(config: dict[str, Any]) -> tuple[int, int, list[tuple[str, int]]]:
    """(modules, parameters, the keys that made them) for one config, nested ones aside."""
    layer_keys, expert_keys = _numbers(config, LAYER_KEYS), _numbers(config, EXPERT_KEYS)
    layers = sum(v for _, v in layer_keys)
    experts = max((v for _, v in expert_keys), default=1)
    width = max((v for _, v in _numbers(config, WIDTH_KEYS)), default=0)
    inner = max((v for _, v in _numbers(config, INNER_KEYS)), default=4 * width)
    vocab = max((v for _, v in _numbers(config, VOCAB_KEYS)), default=0)
    modules = layers * (MODULES_PER_LAYER + MODULES_PER_EXPERT * (experts if expert_keys else 0))
    parameters = layers * (4 * width * width + 3 * width * inner * experts) + vocab * width
    sizes = [*_numbers(config, WIDTH_KEYS), *_numbers(config, INNER_KEYS), *_numbers(config, VOCAB_KEYS)]
    return modules, parameters, layer_keys + expert_keys + sizes


def check_config_size(config: dict[str, Any], label: str) -> None:
    """Refuse, naming the key path, a config whose estimate passes MAX_MODULES or MAX_PARAMETERS."""
    modules = parameters = 0
    culprits: list[tuple[str, int]] = []
    for prefix, part in _configs(config):
        m, p, keys = _estimate(part)
        modules, parameters = modules + m, parameters + p
        culprits += [(prefix + k, v) for k, v in keys]
    if modules > MAX_MODULES:
        _refuse(
            label, culprits, f"about {modules:,} modules, past the limit of {MAX_MODULES:,}", LAYER_KEYS + EXPERT_KEYS
        )
    if parameters > MAX_PARAMETERS:
        _refuse(label, culprits, f"about {_short(parameters)} parameters, past the limit of {MAX_PARAMETERS:,}", ())


def _short(n: int) -> str:
    """A count to read: digits grouped, or its power of ten when it is long (str() of a 5,000-digit int fails)."""
    if n < 10**20:
        return f"{n:,}"
    exponent = int((n.bit_length() - 1) * 0.30103)  # log10(2): at most one short
    return f"{n // 10**exponent} x 10^{exponent}"


def _refuse(label: str, culprits: list[tuple[str, int]], what: str, among: tuple[str, ...]) -> None:
    named = [(k, v) for k, v in culprits if not among or k.rpartition(".")[2] in among]
    key, value = max(named, key=lambda kv: kv[1])
    raise ModelError(
        f"{label}: config.json's {key} = {quoted(value)} would build {what} (docs/security.md); "
        "a config asking for that is refused before anything is built"
    )
