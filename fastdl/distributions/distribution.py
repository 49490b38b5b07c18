"""``Distribution``: the base class (shapes, validation, the sampling protocol)."""
from __future__ import annotations

import numpy as np

from . import constraints as C

_VALIDATE = [True]


def _arr(x):
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.detach().numpy() if hasattr(x, "detach") else x.numpy()
    return np.asarray(x)


def _rng(generator):
    """The NumPy Generator to draw from: fastdl's seeded default, a NumPy Generator, or a
    fastdl.Generator (anything holding one)."""
    if generator is None:
        from ..random import default_generator
        return default_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    for attr in ("_gen", "_rng", "gen", "numpy_generator"):
        g = getattr(generator, attr, None)
        g = g() if callable(g) and not isinstance(g, np.random.Generator) else g
        if isinstance(g, np.random.Generator):
            return g
    raise TypeError(f"generator must be a fastdl.Generator, got {type(generator).__name__}")


def _shape(s):
    if s is None:
        return ()
    if isinstance(s, int):
        return (s,)
    return tuple(int(d) for d in s)


class Distribution:
    """Base of every distribution. Subclasses set ``arg_constraints`` ({name: constraint}),
    ``support``, ``has_rsample``, call ``super().__init__(batch_shape, event_shape,
    validate_args)`` and implement ``rsample``/``sample``, ``log_prob`` and ``entropy``."""

    has_rsample = False
    has_enumerate_support = False
    arg_constraints: dict = {}
    support = None

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument validation on or off for distributions made afterwards."""
        if value not in (True, False):
            raise ValueError("set_default_validate_args: value must be True or False")
        _VALIDATE[0] = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        try:
            from .. import Size
        except ImportError:  # pragma: no cover - older fastdl without fastdl.Size
            Size = tuple
        self._batch_shape = Size(_shape(batch_shape))
        self._event_shape = Size(_shape(event_shape))
        self._validate_args = _VALIDATE[0] if validate_args is None else bool(validate_args)
        if self._validate_args:
            for name, con in self.arg_constraints.items():
                if con is C.dependent or name not in self.__dict__:
                    continue
                value = getattr(self, name)
                ok = con.check(value)
                if not np.all(ok):
                    shape = tuple(np.shape(_arr(value)))
                    raise ValueError(
                        f"Expected parameter {name} (Tensor of shape {shape}) of distribution "
                        f"{self!r} to satisfy the constraint {con!r}, but found invalid "
                        f"values:\n{_arr(value)}")

    # ---- shapes
    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=()):
        return _shape(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape)

    # ---- sampling
    def sample(self, sample_shape=(), generator=None):
        """Draw without recording a graph (``rsample`` detached, or a discrete draw)."""
        from .. import no_grad
        with no_grad():
            return self.rsample(sample_shape, generator=generator).detach()

    def rsample(self, sample_shape=(), generator=None):
        raise NotImplementedError(f"{type(self).__name__} has no rsample (not "
                                  f"reparameterizable); use sample()")

    def sample_n(self, n):
        return self.sample((n,))

    # ---- densities
    def log_prob(self, value):  # pragma: no cover - abstract
        raise NotImplementedError

    def entropy(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def perplexity(self):
        """exp(entropy)."""
        return self.entropy().exp()

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no icdf")

    # ---- moments
    @property
    def mean(self):
        raise NotImplementedError

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError

    @property
    def stddev(self):
        return self.variance.sqrt()

    def expand(self, batch_shape, _instance=None):  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- validation of values
    def _validate_sample(self, value):
        from .. import Tensor
        if not isinstance(value, Tensor):
            raise ValueError(f"The value argument to log_prob must be a Tensor, got "
                             f"{type(value).__name__}")
        shape = tuple(value.shape)
        ev = tuple(self._event_shape)
        if len(shape) < len(ev) or (ev and shape[len(shape) - len(ev):] != ev):
            raise ValueError(f"The right-most size of value must match event_shape: "
                             f"{shape} vs {ev}.")
        try:
            np.broadcast_shapes(shape, tuple(self._batch_shape) + ev)
        except ValueError:
            raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                             f"{shape} vs {tuple(self._batch_shape) + ev}.") from None
        if self.support is not None and not np.all(self.support.check(value)):
            raise ValueError(f"Expected value argument (Tensor of shape {shape}) to be within "
                             f"the support ({self.support!r}) of the distribution {self!r}, "
                             f"but found invalid values:\n{_arr(value)}")

    def __repr__(self):
        names = [k for k in self.arg_constraints if k in self.__dict__]
        parts = []
        for k in names:
            v = self.__dict__[k]
            parts.append(f"{k}: {tuple(np.shape(_arr(v))) if np.size(_arr(v)) > 1 else _arr(v)}")
        return f"{type(self).__name__}({', '.join(parts)})"
