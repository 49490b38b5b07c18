"""Random sampling ops, each with ``generator=`` (see ``fastdl.random``; the factories
rand/randn/randint/randperm live in ``factories.py``): randint_like, normal, bernoulli,
poisson, multinomial, and the in-place initialisers uniform_, normal_, bernoulli_, exponential_,
random_, geometric_, cauchy_, log_normal_.

Samples are not differentiable (as in torch). An in-place initialiser on a leaf that
requires grad is a RuntimeError outside ``no_grad``, as in torch.

Example::

    g = fastdl.Generator().manual_seed(0)
    idx = fastdl.multinomial(fastdl.tensor([0.1, 0.9]), 5, replacement=True, generator=g)
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _C
from .. import random as _random
from ..autograd import function as _fn
from ..random import _gen
from ._support import Tensor, arr, as_tensor, np_dtype, out_, wrap
from .promotion import default_float
from .table import register

for _n in ("Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state"):
    register(_n, method=False)(getattr(_random, _n))


def _size(size, what):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    elif len(size) == 1 and hasattr(size[0], "__len__") and not isinstance(size[0], Tensor):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(arr(s))
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"{what}(): size must be a tuple of ints, got "
                            f"{type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"{what}(): Trying to create tensor with negative dimension {s}: "
                               f"{list(size)}")
        out.append(int(s))
    return tuple(out)


def _float_dt(dtype, what):
    dt = np_dtype(dtype, what) if dtype is not None else default_float[0]
    if dt.kind != "f":
        raise RuntimeError(f"{what}(): \"{what}\" not implemented for '{dt}'")
    return dt


def _finish(a, requires_grad, out, what):
    t = wrap(a)
    if requires_grad:
        t.requires_grad_(True)
    return out_(out, t, what)


def _check_device(device, what):
    if device is not None and str(device).split(":")[0] not in ("cpu",):
        raise RuntimeError(f"{what}(): fastdl runs on the CPU only; device {device!r} is not "
                           f"available")


def _like_dtype(input, dtype, what):
    return np_dtype(dtype, what) if dtype is not None else arr(as_tensor(input)).dtype


@register(method=False)
def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None,
                 requires_grad=False, memory_format=None, generator=None):
    """``randint`` with ``input``'s shape and dtype: ``randint_like(x, high)`` or
    ``randint_like(x, low, high)``. Example: ``fastdl.randint_like(x, 10)``"""
    from .factories import randint
    if high is None:
        low, high = 0, low
    return randint(low, high, arr(as_tensor(input)).shape,
                   dtype=_like_dtype(input, dtype, "randint_like"), generator=generator)


@register(method=False)
def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None,
           layout=None, device=None, requires_grad=False, pin_memory=False):
    """Normal samples with the given ``mean`` and ``std`` (numbers or tensors, broadcast);
    with two numbers, ``size`` gives the shape. A negative std is a RuntimeError.
    Example: ``fastdl.normal(fastdl.zeros(3), 2.0)``"""
    g = _gen(generator)
    mt, st = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not mt and not st:
        if size is None:
            raise TypeError("normal(): with a float mean and std, size is required")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        dt = _float_dt(dtype, "normal")
        a = (g.standard_normal(_size((size,), "normal")) * std + mean).astype(dt)
        return _finish(a, requires_grad, out, "normal")
    m = arr(mean) if mt else np.asarray(mean)
    s = arr(std) if st else np.asarray(std)
    if (s < 0).any():
        raise RuntimeError(f"normal expects all elements of std >= 0.0, got {s.min()}")
    dt = (m if mt else s).dtype
    if dt.kind != "f":
        raise RuntimeError(f"normal(): expected a floating point mean/std, got {dt}")
    shape = np.broadcast_shapes(m.shape, s.shape)
    a = (g.standard_normal(shape) * s + m).astype(dt)
    return _finish(a, False, out, "normal")


@register()
def bernoulli(input, p=None, *, generator=None, out=None):
    """0/1 samples: 1 with probability ``input`` (elementwise, in [0, 1]), or with
    probability ``p`` when given; input's dtype.
    Example: ``fastdl.bernoulli(fastdl.full((3,), 0.5))``"""
    x = as_tensor(input)
    a = arr(x)
    prob = a if p is None else (arr(p) if isinstance(p, Tensor) else np.asarray(p))
    if np.size(prob) and (np.min(prob) < 0 or np.max(prob) > 1):
        raise RuntimeError("bernoulli(): all elements of input should be between 0 and 1")
    u = _gen(generator).random(a.shape)
    return out_(out, wrap((u < prob).astype(a.dtype)), "bernoulli")


@register()
def poisson(input, generator=None):
    """Poisson samples with rates ``input`` (≥ 0), in input's dtype.
    Example: ``fastdl.poisson(fastdl.full((3,), 4.0))``"""
    a = arr(as_tensor(input))
    if a.size and a.min() < 0:
        raise RuntimeError("poisson(): invalid Poisson rate, expected rate to be non-negative")
    return wrap(_gen(generator).poisson(a).astype(a.dtype))


@register()
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices sampled from the categorical distributions given by the rows of ``input``
    (non-negative weights, not necessarily normalised; 1-D or 2-D): ``num_samples`` per row,
    with or without replacement (without: no index twice, at most the number of nonzero
    weights). int64.
    Example: ``fastdl.multinomial(fastdl.tensor([0.2, 0.8]), 4, replacement=True)``"""
    w = arr(as_tensor(input))
    if w.ndim not in (1, 2):
        raise RuntimeError(f"multinomial(): prob_dist must be 1 or 2 dim, got {w.ndim}")
    if w.dtype.kind != "f":
        raise RuntimeError(f"multinomial(): only supports floating-point dtypes for input, got "
                           f"{w.dtype}")
    if num_samples <= 0:
        raise RuntimeError(f"multinomial(): cannot sample n_sample <= 0 samples, got "
                           f"{num_samples}")
    if replacement and w.shape[-1] and w.dtype.itemsize >= 4:
        # float32/float64 rows on the C++ kernel (it validates the weights too): per row the
        # first category whose cumulative weight exceeds u · total
        w2 = np.ascontiguousarray(w.reshape(-1, w.shape[-1]))
        u = _gen(generator).random((w2.shape[0], num_samples))
        idx = _C.tensorops_multinomial(w2, u)
        return out_(out, wrap(idx.reshape(w.shape[:-1] + (num_samples,))), "multinomial")
    if not replacement and 0 < num_samples <= w.shape[-1] and w.dtype.itemsize >= 4:
        # float32/float64 rows on the C++ kernel (it validates the weights too): the
        # exponential race, the k largest w / E with E = -log(u) exponential
        w2 = np.ascontiguousarray(w.reshape(-1, w.shape[-1]))
        u = _gen(generator).random(w2.shape, dtype=w2.dtype)
        idx = _C.tensorops_multinomial_noreplace(w2, u, num_samples)
        return out_(out, wrap(idx.reshape(w.shape[:-1] + (num_samples,))), "multinomial")
    rows = w.reshape(-1, w.shape[-1]).astype(np.float64)
    n = rows.shape[1]
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise RuntimeError("multinomial(): probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    tot = rows.sum(1)
    if (tot <= 0).any():
        raise RuntimeError("multinomial(): invalid multinomial distribution (sum of "
                           "probabilities <= 0)")
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial(): cannot sample n_sample > prob_dist.size(-1) samples "
                           f"without replacement ({num_samples} > {n})")
    g = _gen(generator)
    if replacement:
        # rows' CDFs laid end to end (row r shifted by r) make one sorted array
        r = rows.shape[0]
        cdf = np.cumsum(rows, 1)
        cdf /= cdf[:, -1:]
        cdf = np.minimum(cdf, 1.0)
        cdf += np.arange(r)[:, None]
        u = g.random((r, num_samples)) + np.arange(r)[:, None]
        flat = np.searchsorted(cdf.ravel(), u.ravel(), side="right")
        idx = flat.reshape(r, num_samples) - (np.arange(r) * n)[:, None]
        idx = np.clip(idx, 0, n - 1)
        # a zero-weight category is never drawn: step to the next one that has weight
        bad = np.take_along_axis(rows, idx, 1) == 0
        if bad.any():
            for i, j in zip(*np.nonzero(bad)):
                nz = np.flatnonzero(rows[i] > 0)
                idx[i, j] = nz[np.searchsorted(nz, idx[i, j]) % nz.size]
    else:
        # exponential race: the k smallest E_i / w_i are a weighted sample without replacement
        # (a zero weight's key is inf: drawn only after every positive one, as torch)
        with np.errstate(divide="ignore"):
            keys = g.standard_exponential(rows.shape) / rows
        idx = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    idx = idx.astype(np.int64).reshape(w.shape[:-1] + (num_samples,))
    return out_(out, wrap(idx), "multinomial")


# ---- in-place initialisers -----------------------------------------------------------------


def _fill(self, sample, what):
    """Write ``sample`` (an array of self's shape) into self in place."""
    if not isinstance(self, Tensor):
        raise TypeError(f"{what}: expected a Tensor, got {type(self).__name__}")
    if _fn._state.grad and self.requires_grad and self._node is None:
        raise RuntimeError(f"{what}: a leaf Variable that requires grad is being used in an "
                           f"in-place operation. Wrap it in `with fastdl.no_grad():` or use "
                           f"`.data.{what}(...)`.")
    a = arr(self)
    np.copyto(a, sample, casting="unsafe")
    self._vc[0] += 1
    return self


def _float_self(self, what):
    a = arr(self)
    if a.dtype.kind != "f":
        raise RuntimeError(f"{what}: \"{what}\" not implemented for '{a.dtype}'")
    return a


@register(function=False)
def uniform_(self, a=0.0, b=1.0, *, generator=None, **kw):
    """Fill with uniform samples in [a, b) (torch's ``from``/``to`` keywords accepted).
    Example: ``w.uniform_(-0.1, 0.1)``"""
    a = kw.pop("from", a)
    b = kw.pop("to", b)
    if kw:
        raise TypeError(f"uniform_() got unexpected keyword arguments {sorted(kw)}")
    arr_ = _float_self(self, "uniform_")
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > "
                           f"to={b}")
    return _fill(self, _gen(generator).uniform(a, b, arr_.shape), "uniform_")


def _box_muller_f32(out, seed):
    """Standard normal float32 samples into the 1-D array ``out``: 24-bit uniforms u1, u2 from
    the Philox words of ``seed`` (``_C.dropout_words``), z = √(-2 ln(1 - u1))·(cos, sin)(2π u2)."""
    n = out.size
    half = (n + 1) // 2
    w = _C.dropout_words(2 * half, seed)
    u = np.right_shift(w, 8).astype(np.float32)
    u *= np.float32(2.0 ** -24)
    r = np.subtract(np.float32(1.0), u[:half])  # (0, 1]: no log(0)
    np.log(r, out=r)
    r *= np.float32(-2.0)
    np.sqrt(r, out=r)
    th = u[half:]
    th *= np.float32(2.0 * np.pi)
    np.multiply(r, np.cos(th), out=out[:half])
    np.sin(th, out=th)
    th *= r
    out[half:] = th[:n - half]


@register(function=False)
def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with normal samples N(mean, std²). Example: ``w.normal_(0, 0.02)``"""
    arr_ = _float_self(self, "normal_")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if arr_.dtype in (np.float32, np.float64) and arr_.flags.c_contiguous and \
            arr_.flags.writeable and not (_fn._state.grad and self.requires_grad and
                                          self._node is None):
        # sampled straight into the storage in its own dtype: float32 by Box-Muller on
        # fastdl's vectorised Philox stream (as torch's float32 normal_, 24-bit uniforms, so
        # |z| <= 5.77), float64 by NumPy's ziggurat; both seeded from the generator
        g = _gen(generator)
        if arr_.dtype == np.float32 and arr_.size >= 16:
            _box_muller_f32(arr_.reshape(-1), int(g.integers(0, 1 << 63)))
        else:
            g.standard_normal(arr_.shape, dtype=arr_.dtype, out=arr_)
        if std != 1:
            arr_ *= std
        if mean != 0:
            arr_ += mean
        self._vc[0] += 1
        return self
    return _fill(self, _gen(generator).normal(mean, std, arr_.shape), "normal_")


@register(function=False)
def bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 1 with probability ``p`` (a number or a broadcastable tensor), else 0.
    Example: ``mask.bernoulli_(0.9)``"""
    a = arr(self)
    prob = arr(p) if isinstance(p, Tensor) else np.asarray(p)
    if np.size(prob) and (np.min(prob) < 0 or np.max(prob) > 1):
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    return _fill(self, _gen(generator).random(a.shape) < prob, "bernoulli_")


@register(function=False)
def exponential_(self, lambd=1.0, *, generator=None):
    """Fill with exponential samples of rate ``lambd`` (density λ e^{-λx}).
    Example: ``t.exponential_(2.0)``"""
    a = _float_self(self, "exponential_")
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _fill(self, _gen(generator).exponential(1.0 / lambd, a.shape), "exponential_")


@register(function=False)
def random_(self, from_=0, to=None, *, generator=None, **kw):
    """Fill with integers uniform in [from, to - 1]; ``random_(to)`` is [0, to - 1]; with no
    bound, [0, 2^mantissa] for floats and [0, max] for integers, as torch.
    Example: ``t.random_(0, 10)``"""
    from_ = kw.pop("from", from_)
    if kw:
        raise TypeError(f"random_() got unexpected keyword arguments {sorted(kw)}")
    a = arr(self)
    if to is None and from_ != 0:
        from_, to = 0, from_
    if to is None:
        if a.dtype.kind == "f":
            to = 2 ** (np.finfo(a.dtype).nmant + 1) + 1
        elif a.dtype.kind == "b":
            to = 2
        else:
            to = int(np.iinfo(a.dtype).max) + 1
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} "
                           f">= to={to}")
    return _fill(self, _gen(generator).integers(from_, to, a.shape, dtype=np.int64,
                                                endpoint=False), "random_")


@register(function=False)
def geometric_(self, p, *, generator=None):
    """Fill with geometric samples: the number of Bernoulli(p) trials up to the first
    success (1, 2, …). Example: ``t.geometric_(0.3)``"""
    a = arr(self)
    if not 0 < p <= 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1], but got p={p}")
    return _fill(self, _gen(generator).geometric(p, a.shape), "geometric_")


@register(function=False)
def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """Fill with Cauchy samples ``median + sigma·tan(π(u - ½))``.
    Example: ``t.cauchy_(0.0, 1.0)``"""
    a = _float_self(self, "cauchy_")
    if sigma <= 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    return _fill(self, median + sigma * _gen(generator).standard_cauchy(a.shape), "cauchy_")


@register(function=False)
def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """Fill with ``exp(N(mean, std²))`` samples. Example: ``t.log_normal_(0.0, 0.5)``"""
    a = _float_self(self, "log_normal_")
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _fill(self, _gen(generator).lognormal(mean, std, a.shape), "log_normal_")


__all__ = ["randint_like", "normal", "bernoulli", "poisson", "multinomial"]
