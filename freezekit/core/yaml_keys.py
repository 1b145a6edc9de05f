"""A YAML mapping that names a key twice is an error, not "the last one wins" (PyYAML's default,
which silently drops a whole `rules:` block or the first `model:`)."""

from __future__ import annotations

import yaml

from ..errors import ConfigError


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses a mapping with two equal keys, naming the key and both lines."""

    def compose_mapping_node(self, anchor):  # noqa: ANN001, ANN201 - PyYAML's signature
        node = super().compose_mapping_node(anchor)
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # a non-scalar key is refused later ("keys must be strings")
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                raise ConfigError(
                    f"duplicate key '{key_node.value}' on lines {seen[key_node.value]} and {line}; keep one"
                )
            seen[key_node.value] = line
        return node
