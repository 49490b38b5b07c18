"""Random state: one seed makes every random draw in fastdl reproducible."""
from __future__ import annotations

import numpy as np

_state = {"gen": np.random.default_rng(), "seed": None, "counter": 0}


def manual_seed(seed: int):
    """Seed every random draw in fastdl (factories, init, dropout masks, shuffling).

    Example: ``fastdl.manual_seed(0); a = fastdl.randn(3)`` gives the same ``a`` every run.
    """
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be >= 0, got {seed}")
    _state["gen"] = np.random.default_rng(seed)
    _state["seed"] = seed
    _state["counter"] = 0
    return seed


def default_generator() -> np.random.Generator:
    """The NumPy Generator behind fastdl's random draws."""
    return _state["gen"]


def next_kernel_seed() -> int:
    """A fresh 63-bit seed for a counter-based kernel RNG (e.g. dropout), drawn from the
    seeded generator so a manual_seed'd run gets the same sequence of masks."""
    return int(_state["gen"].integers(0, 2**63 - 1))
