"""Constraints on parameters and supports, with torch.distributions.constraints' names:
``check(value)`` returns a bool array saying, element by element (or event by event), whether
the constraint holds.

Example: ``constraints.positive.check(np.array([1.0, -1.0]))  # [True, False]``"""
from __future__ import annotations

import numpy as np


def _a(x):
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.detach().numpy() if hasattr(x, "detach") else x.numpy()
    return np.asarray(x)


class Constraint:
    """A region of values; ``event_dim`` is how many rightmost dims one check covers."""

    is_discrete = False
    event_dim = 0

    def check(self, value):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__[1:]}()"


class _Real(Constraint):
    def check(self, v):
        v = _a(v)
        return v == v  # not NaN


class _Positive(Constraint):
    def check(self, v):
        return _a(v) > 0


class _Boolean(Constraint):
    is_discrete = True

    def check(self, v):
        v = _a(v)
        return (v == 0) | (v == 1)


class _UnitInterval(Constraint):
    def check(self, v):
        v = _a(v)
        return (v >= 0) & (v <= 1)


class _Simplex(Constraint):
    event_dim = 1

    def check(self, v):
        v = _a(v)
        return np.all(v >= 0, axis=-1) & (np.abs(v.sum(-1) - 1) < 1e-6)


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower, upper):
        self.lower_bound, self.upper_bound = lower, upper

    def check(self, v):
        v = _a(v)
        return (v % 1 == 0) & (v >= self.lower_bound) & (v <= self.upper_bound)

    def __repr__(self):
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def check(self, v):
        v = _a(v)
        return np.all((v == 0) | (v == 1), axis=-1) & (v.sum(-1) == 1)


class _Interval(Constraint):
    """``lower <= x < upper`` (half open, as torch's Uniform support)."""

    def __init__(self, lower, upper):
        self.lower_bound, self.upper_bound = lower, upper

    def check(self, v):
        return (_a(self.lower_bound) <= _a(v)) & (_a(v) < _a(self.upper_bound))

    def __repr__(self):
        return "HalfOpenInterval(lower_bound, upper_bound)"


class _Dependent(Constraint):
    """A constraint that depends on other parameters (checked by the distribution)."""

    def check(self, v):
        return np.ones(np.shape(_a(v)), bool)


class _LowerCholesky(Constraint):
    event_dim = 2

    def check(self, v):
        v = _a(v)
        lower = np.all(np.triu(v, 1) == 0, axis=(-2, -1))
        diag = np.all(np.diagonal(v, axis1=-2, axis2=-1) > 0, axis=-1)
        return lower & diag


class _IndependentReal(Constraint):
    def __init__(self, n):
        self.event_dim = n

    def check(self, v):
        v = _a(v)
        ok = v == v
        return np.all(ok, axis=tuple(range(-self.event_dim, 0))) if self.event_dim else ok


real = _Real()
positive = _Positive()
boolean = _Boolean()
unit_interval = _UnitInterval()
simplex = _Simplex()
one_hot = _OneHot()
lower_cholesky = _LowerCholesky()
dependent = _Dependent()
real_vector = _IndependentReal(1)


def integer_interval(lower, upper):
    """Integers in ``[lower, upper]``."""
    return _IntegerInterval(lower, upper)


def half_open_interval(lower, upper):
    """``lower <= x < upper``."""
    return _Interval(lower, upper)
