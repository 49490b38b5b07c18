"""Random numbers: ``fastdl.Generator`` (torch's API on NumPy's PCG64 bit generator), the
default generator behind every random draw in fastdl, and the sampling functions and
in-place initialisers, each taking ``generator=``.

One seed makes a run reproducible: ``fastdl.manual_seed(0)`` reseeds the default generator,
which the factories (``rand``, ``randn``, ``randint``, ``randperm``, ``normal``, …), the
in-place initialisers (``uniform_``, ``normal_``, …), ``nn.init``, dropout masks and data
shuffling all draw from. A private ``Generator`` gives an independent stream::

    g = fastdl.Generator().manual_seed(42)
    a = fastdl.rand(3, generator=g)
    state = g.get_state(); b = fastdl.rand(3, generator=g)
    g.set_state(state);    c = fastdl.rand(3, generator=g)     # c == b

The streams are NumPy's, not torch's: the same seed gives different numbers than torch.
"""
from __future__ import annotations

import ast
import numbers

import numpy as np


def _fresh_seed() -> int:
    return int(np.random.SeedSequence().entropy % (2 ** 63))


class Generator:
    """A random-number generator with torch's interface: ``manual_seed(seed)`` (returns the
    generator), ``seed()`` (a fresh nondeterministic seed, returned), ``initial_seed()``,
    ``get_state()`` / ``set_state(state)`` (a uint8 tensor), ``device``.

    Example: ``g = fastdl.Generator().manual_seed(0); fastdl.randn(2, generator=g)``

    Calling the generator (``g()``) returns the NumPy ``np.random.Generator`` it draws from
    (used inside fastdl).
    """

    def __init__(self, device="cpu"):
        if str(device) not in ("cpu",):
            raise RuntimeError(f"Generator: fastdl runs on the CPU only; device {device!r} is not "
                               f"available")
        self.device = device
        self._seed = _fresh_seed()
        self._np = np.random.Generator(np.random.PCG64(self._seed))

    def __call__(self) -> np.random.Generator:
        return self._np

    @property
    def _rng(self) -> np.random.Generator:
        return self._np

    def manual_seed(self, seed):
        """Reseed with the integer ``seed`` (0 ≤ seed < 2⁶⁴; negative values wrap as in
        torch) and return the generator. Example: ``g.manual_seed(0)``"""
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"manual_seed expected an int, got {type(seed).__name__}")
        seed = int(seed)
        if seed < -(2 ** 63) or seed >= 2 ** 64:
            raise RuntimeError(f"Overflow when unpacking long: seed {seed} is out of range "
                               f"[-2**63, 2**64)")
        seed %= 2 ** 64
        self._seed = seed
        self._np = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy and return the new seed."""
        s = _fresh_seed()
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed the generator was last seeded with."""
        return self._seed

    def get_state(self):
        """The full generator state as a uint8 tensor (restore it with ``set_state``)."""
        from .ops._support import wrap
        text = repr({"seed": self._seed, "bit_generator": self._np.bit_generator.state})
        return wrap(np.frombuffer(text.encode(), dtype=np.uint8).copy())

    def set_state(self, new_state):
        """Restore a state from ``get_state`` (a uint8 tensor); returns the generator."""
        from .ops._support import arr
        a = arr(new_state) if not isinstance(new_state, np.ndarray) else new_state
        if a.dtype.kind not in "iu" or a.ndim != 1:
            raise TypeError(f"set_state: expected a 1-D uint8 tensor from get_state(), got "
                            f"{a.dtype} of shape {tuple(a.shape)}")
        try:
            if a.size and (a.min() < 0 or a.max() > 255):
                raise ValueError("not bytes")
            st = ast.literal_eval(a.astype(np.uint8).tobytes().decode())
            bg = np.random.PCG64()
            bg.state = st["bit_generator"]
            seed = int(st["seed"])
        except (ValueError, SyntaxError, KeyError, TypeError, UnicodeDecodeError):
            raise RuntimeError("set_state: the tensor is not a state from "
                               "Generator.get_state()") from None
        self._np = np.random.Generator(bg)
        self._seed = seed
        return self

    def __repr__(self):
        return f"<fastdl.Generator object (device='{self.device}', seed={self._seed})>"


default_generator = Generator()
"""The generator every random draw uses unless given ``generator=``."""


class _DefaultState:
    """``_state["gen"]``: the default generator's NumPy stream, read and replaced by code that
    saves and restores it (``fastdl.utils.checkpoint``)."""

    def __getitem__(self, key):
        if key != "gen":
            raise KeyError(key)
        return default_generator._np

    def __setitem__(self, key, value):
        if key != "gen" or not isinstance(value, np.random.Generator):
            raise KeyError(key)
        default_generator._np = value


_state = _DefaultState()


def _gen(generator) -> np.random.Generator:
    if generator is None:
        return default_generator._np
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a fastdl.Generator, got {type(generator).__name__}")
    return generator._np


def manual_seed(seed):
    """Seed every random draw in fastdl (factories, init, dropout masks, shuffling); returns
    the default generator, as torch.

    Example: ``fastdl.manual_seed(0); a = fastdl.randn(3)`` gives the same ``a`` every run.
    """
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator nondeterministically and return the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed of the default generator. Example: ``fastdl.initial_seed()``"""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state (a uint8 tensor). Example: ``s = fastdl.get_rng_state()``"""
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    """Restore the default generator's state from ``get_rng_state``."""
    default_generator.set_state(new_state)


def next_kernel_seed(generator=None) -> int:
    """A fresh 63-bit seed for a counter-based kernel RNG (e.g. dropout), drawn from the
    generator so a manual_seed'd run gets the same sequence of masks."""
    return int(_gen(generator).integers(0, 2 ** 63 - 1))


__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state"]
