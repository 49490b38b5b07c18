"""The random streams behind samplers, ``random_split`` and the DataLoader's worker seeds.

``generator=`` follows PyTorch: ``None`` means "draw from fastdl's global generator" (so
``fastdl.manual_seed`` makes everything reproducible), a generator object is used (and
advanced) as is. fastdl accepts a ``numpy.random.Generator`` or any object that carries one
(a fastdl generator exposes it as ``numpy_generator()`` / ``_np`` / ``_gen``).
"""
from __future__ import annotations

import numpy as np

from ...random import default_generator


def _unwrap(generator):
    if isinstance(generator, np.random.Generator):
        return generator
    for name in ("numpy_generator", "_np", "_gen", "gen", "_generator"):
        g = getattr(generator, name, None)
        if callable(g) and not isinstance(g, np.random.Generator):
            try:
                g = g()
            except TypeError:
                g = None
        if isinstance(g, np.random.Generator):
            return g
    return None


def resolve_generator(generator, who, fresh=True):
    """The NumPy Generator to draw from. With ``generator=None`` and ``fresh=True`` a new
    generator seeded by one draw from the global one (PyTorch's samplers do exactly this
    on every ``__iter__``); with ``fresh=False`` the global generator itself."""
    if generator is None:
        g = default_generator()
        if fresh:
            return np.random.default_rng(int(g.integers(0, 2**63 - 1)))
        return g
    g = _unwrap(generator)
    if g is None:
        raise TypeError(f"{who}: generator must be a numpy.random.Generator or a fastdl "
                        f"generator, got {type(generator).__name__}")
    return g


def draw_seed(generator):
    """One 63-bit seed from ``generator`` (or the global generator)."""
    return int(resolve_generator(generator, "seed", fresh=False).integers(0, 2**63 - 1))
