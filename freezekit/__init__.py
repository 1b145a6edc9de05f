"""freezekit: freeze parts of PyTorch models by declared rules, and audit what you froze.

The Python API (freeze, count, trainable_parameters, ...) is imported lazily so that
`import freezekit` and `freezekit --help` never pay for torch.
"""
from __future__ import annotations

__version__ = "0.1.0"
