"""The distributions: Normal, Bernoulli, Categorical, OneHotCategorical, Uniform,
Independent, MultivariateNormal. Densities and entropies are compositions of fastdl's
differentiable ops, so gradients reach every parameter; sampling draws from fastdl's seeded
generator (or ``generator=``)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import constraints as C
from .distribution import Distribution, _arr, _rng, _shape

_LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))


def _fd():
    import fastdl
    return fastdl


def _F():
    from ..nn import functional as F
    return F


def _broadcast_all(*values):
    """Tensors of one broadcast shape; Python numbers take the dtype of the tensors given
    (the default float dtype if there are none), as torch's broadcast_all."""
    fd = _fd()
    tensors = [v for v in values if isinstance(v, fd.Tensor)]
    if not tensors and not all(isinstance(v, numbers.Number) for v in values):
        values = [fd.as_tensor(v) if not isinstance(v, numbers.Number) else v for v in values]
        tensors = [v for v in values if isinstance(v, fd.Tensor)]
    floats = [t for t in tensors if _arr(t).dtype.kind == "f"]
    dtype = floats[0].dtype if floats else None
    out = []
    for v in values:
        if isinstance(v, fd.Tensor):
            out.append(v if _arr(v).dtype.kind == "f" else v.float())
        else:
            out.append(fd.tensor(float(v), dtype=dtype) if dtype is not None else
                       fd.tensor(float(v)))
    shape = np.broadcast_shapes(*[tuple(t.shape) for t in out])
    return tuple(t if tuple(t.shape) == shape else t.expand(*shape) for t in out)


def _as_float_tensor(v):
    fd = _fd()
    return v if isinstance(v, fd.Tensor) else fd.tensor(np.asarray(v, np.float32))


def _clamp_probs(p):
    eps = float(np.finfo(_arr(p).dtype if _arr(p).dtype.kind == "f" else np.float32).eps)
    return p.clamp(min=eps, max=1 - eps)


def _sum_rightmost(t, n):
    for _ in range(n):
        t = t.sum(-1)
    return t


def _np_dtype(t):
    return _arr(t).dtype


class Normal(Distribution):
    """Normal N(loc, scale²): log p(x) = −(x − μ)²/(2σ²) − log σ − ½ log 2π,
    entropy ½ + ½ log 2π + log σ, ``rsample`` = μ + σ·ε.

    Example: ``Normal(fastdl.zeros(3), fastdl.ones(3)).rsample((5,)).shape  # (5, 3)``"""

    arg_constraints = {"loc": C.real, "scale": C.positive}
    support = C.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = _broadcast_all(loc, scale)
        super().__init__(tuple(self.loc.shape), (), validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale ** 2

    def expand(self, batch_shape, _instance=None):
        s = _shape(batch_shape)
        return Normal(self.loc.expand(*s), self.scale.expand(*s), validate_args=False)

    def rsample(self, sample_shape=(), generator=None):
        fd = _fd()
        shape = self._extended_shape(sample_shape)
        eps = _rng(generator).standard_normal(shape).astype(_np_dtype(self.loc))
        return self.loc + fd.tensor(eps) * self.scale

    def log_prob(self, value):
        value = _as_float_tensor(value)
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale ** 2
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - _LOG_SQRT_2PI

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()

    def cdf(self, value):
        value = _as_float_tensor(value)
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + _fd().erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value):
        value = _as_float_tensor(value)
        return self.loc + self.scale * _fd().erfinv(2 * value - 1) * math.sqrt(2)


class Bernoulli(Distribution):
    """Bernoulli with ``probs`` p or ``logits`` (log-odds): log p(x) = x log p + (1 − x)
    log(1 − p), computed from the logits as −BCEWithLogits.

    Example: ``Bernoulli(logits=fastdl.zeros(4)).sample()``"""

    arg_constraints = {"probs": C.unit_interval, "logits": C.real}
    support = C.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (self.probs,) = _broadcast_all(probs)
            shape = tuple(self.probs.shape)
        else:
            (self.logits,) = _broadcast_all(logits)
            shape = tuple(self.logits.shape)
        super().__init__(shape, (), validate_args)

    def __getattr__(self, name):
        if name == "probs":
            self.probs = _F().sigmoid(self.__dict__["logits"])
            return self.probs
        if name == "logits":
            p = _clamp_probs(self.__dict__["probs"])
            self.logits = p.log() - (1 - p).log()
            return self.logits
        raise AttributeError(name)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return (self.probs >= 0.5).to(self.probs.dtype)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def expand(self, batch_shape, _instance=None):
        s = _shape(batch_shape)
        if "probs" in self.__dict__:
            return Bernoulli(probs=self.probs.expand(*s), validate_args=False)
        return Bernoulli(logits=self.logits.expand(*s), validate_args=False)

    def sample(self, sample_shape=(), generator=None):
        fd = _fd()
        shape = self._extended_shape(sample_shape)
        p = np.broadcast_to(_arr(self.probs), shape)
        u = _rng(generator).random(shape)
        return fd.tensor((u < p).astype(_arr(self.probs).dtype))

    def log_prob(self, value):
        value = _as_float_tensor(value)
        if self._validate_args:
            self._validate_sample(value)
        logits, value = _broadcast_all(self.logits, value)
        return -_F().binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        return _F().binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        fd = _fd()
        values = fd.tensor(np.arange(2, dtype=_arr(self.probs).dtype).reshape(
            (2,) + (1,) * len(self._batch_shape)))
        return values.expand(2, *self._batch_shape) if expand else values


class Categorical(Distribution):
    """Categorical over ``K`` classes (the last dimension of ``probs`` or ``logits``):
    ``probs`` are normalised to sum to 1, ``logits`` to log-probabilities (log-softmax);
    ``log_prob(k)`` = logits[k], entropy −Σ p log p.

    Example: ``Categorical(logits=policy(obs)).sample()``"""

    arg_constraints = {"probs": C.simplex, "logits": C.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            probs = _as_float_tensor(probs)
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
            param = self.probs
        else:
            logits = _as_float_tensor(logits)
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = _F().log_softmax(logits, dim=-1)
            param = self.logits
        self._num_events = int(param.shape[-1])
        super().__init__(tuple(param.shape[:-1]), (), validate_args)

    def __getattr__(self, name):
        if name == "probs":
            self.probs = _F().softmax(self.__dict__["logits"], dim=-1)
            return self.probs
        if name == "logits":
            self.logits = _clamp_probs(self.__dict__["probs"]).log()
            return self.logits
        raise AttributeError(name)

    @property
    def support(self):
        return C.integer_interval(0, self._num_events - 1)

    @property
    def param_shape(self):
        return (self.probs if "probs" in self.__dict__ else self.logits).shape

    @property
    def mean(self):
        fd = _fd()
        return fd.full(tuple(self._batch_shape), float("nan"), dtype=self.probs.dtype)

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return self.mean

    def expand(self, batch_shape, _instance=None):
        s = _shape(batch_shape) + (self._num_events,)
        if "probs" in self.__dict__:
            return Categorical(probs=self.probs.expand(*s), validate_args=False)
        return Categorical(logits=self.logits.expand(*s), validate_args=False)

    def sample(self, sample_shape=(), generator=None):
        fd = _fd()
        ss = _shape(sample_shape)
        p = _arr(self.probs).astype(np.float64)
        flat = p.reshape(-1, self._num_events)
        cdf = np.cumsum(flat, -1)
        cdf /= cdf[:, -1:]
        n = int(np.prod(ss)) if ss else 1
        u = _rng(generator).random((n, flat.shape[0], 1))
        idx = np.minimum((u > cdf[None]).sum(-1), self._num_events - 1)
        return fd.tensor(idx.reshape(ss + tuple(self._batch_shape)).astype(np.int64))

    def log_prob(self, value):
        fd = _fd()
        value = value if isinstance(value, fd.Tensor) else fd.tensor(value)
        if self._validate_args:
            self._validate_sample(value)
        v = _arr(value).astype(np.int64)
        logits = self.logits
        shape = np.broadcast_shapes(v.shape, tuple(self._batch_shape))
        v = np.broadcast_to(v, shape)
        lg = logits.expand(*shape, self._num_events) if tuple(logits.shape[:-1]) != shape \
            else logits
        return lg.gather(-1, fd.tensor(v[..., None].copy())).squeeze(-1)

    def entropy(self):
        min_real = float(np.finfo(_arr(self.logits).dtype).min)
        logits = self.logits.clamp(min=min_real)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        fd = _fd()
        values = fd.tensor(np.arange(self._num_events, dtype=np.int64).reshape(
            (-1,) + (1,) * len(self._batch_shape)))
        return values.expand(self._num_events, *self._batch_shape) if expand else values


class OneHotCategorical(Distribution):
    """Categorical whose samples are one-hot vectors of length K (``event_shape`` (K,)).

    Example: ``OneHotCategorical(probs=fastdl.tensor([0.2, 0.8])).sample()``"""

    arg_constraints = {"probs": C.simplex, "logits": C.real_vector}
    support = C.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        super().__init__(self._categorical.batch_shape,
                         (self._categorical._num_events,), validate_args=False)
        self._validate_args = self._categorical._validate_args

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        fd = _fd()
        k = _arr(self.probs).argmax(-1)
        return fd.tensor(np.eye(self.event_shape[0], dtype=_arr(self.probs).dtype)[k])

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def expand(self, batch_shape, _instance=None):
        s = _shape(batch_shape) + tuple(self.event_shape)
        if "probs" in self._categorical.__dict__:
            return OneHotCategorical(probs=self.probs.expand(*s), validate_args=False)
        return OneHotCategorical(logits=self.logits.expand(*s), validate_args=False)

    def sample(self, sample_shape=(), generator=None):
        fd = _fd()
        k = _arr(self._categorical.sample(sample_shape, generator))
        return fd.tensor(np.eye(self.event_shape[0], dtype=_arr(self.probs).dtype)[k])

    def log_prob(self, value):
        fd = _fd()
        value = value if isinstance(value, fd.Tensor) else fd.tensor(value)
        if self._validate_args:
            self._validate_sample(value)
        idx = fd.tensor(_arr(value).argmax(-1))
        return self._categorical.log_prob(idx)

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        fd = _fd()
        n = self.event_shape[0]
        values = fd.tensor(np.eye(n, dtype=_arr(self.probs).dtype).reshape(
            (n,) + (1,) * len(self.batch_shape) + (n,)))
        return values.expand(n, *self.batch_shape, n) if expand else values


class Uniform(Distribution):
    """Uniform on [low, high): log p(x) = −log(high − low) inside, −inf outside;
    entropy log(high − low); ``rsample`` = low + u·(high − low).

    Example: ``Uniform(0.0, 2.0).rsample((3,))``"""

    arg_constraints = {"low": C.dependent, "high": C.dependent}
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = _broadcast_all(low, high)
        super().__init__(tuple(self.low.shape), (), validate_args)
        if self._validate_args and not np.all(_arr(self.low) < _arr(self.high)):
            raise ValueError(f"Expected parameter low (Tensor of shape "
                             f"{tuple(self.low.shape)}) of distribution {self!r} to satisfy "
                             f"the constraint LessThan(upper_bound=high), but found invalid "
                             f"values:\n{_arr(self.low)}")

    @property
    def support(self):
        return C.half_open_interval(self.low, self.high)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        fd = _fd()
        return fd.full(tuple(self._batch_shape), float("nan"), dtype=self.low.dtype)

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def expand(self, batch_shape, _instance=None):
        s = _shape(batch_shape)
        return Uniform(self.low.expand(*s), self.high.expand(*s), validate_args=False)

    def rsample(self, sample_shape=(), generator=None):
        fd = _fd()
        shape = self._extended_shape(sample_shape)
        u = _rng(generator).random(shape).astype(_np_dtype(self.low))
        return self.low + fd.tensor(u) * (self.high - self.low)

    def log_prob(self, value):
        fd = _fd()
        value = _as_float_tensor(value)
        if self._validate_args:
            self._validate_sample(value)
        inside = (_arr(self.low) <= _arr(value)) & (_arr(value) < _arr(self.high))
        mask = fd.tensor(np.where(inside, 0.0, -np.inf).astype(_np_dtype(self.low)))
        return mask - (self.high - self.low).log()

    def entropy(self):
        return (self.high - self.low).log()

    def cdf(self, value):
        value = _as_float_tensor(value)
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value):
        return _as_float_tensor(value) * (self.high - self.low) + self.low


def _from_base(name):
    """A read-only property that forwards ``name`` to ``self.base_dist``."""
    return property(lambda self: getattr(self.base_dist, name),
                    doc=f"The base distribution's ``{name}``.")


class Independent(Distribution):
    """Reinterpret the rightmost ``reinterpreted_batch_ndims`` batch dimensions of
    ``base_distribution`` as event dimensions: log-probabilities and entropies are summed
    over them.

    Example: ``Independent(Normal(mu, sigma), 1).log_prob(x)  # shape (N,) for mu (N, D)``"""

    arg_constraints: dict = {}

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        n = reinterpreted_batch_ndims
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"reinterpreted_batch_ndims must be a non-negative int, got {n!r}")
        bs = tuple(base_distribution.batch_shape)
        if n > len(bs):
            raise ValueError(f"Expected reinterpreted_batch_ndims <= len(base_distribution."
                             f"batch_shape), actual {n} vs {len(bs)}")
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = n
        cut = len(bs) - n
        super().__init__(bs[:cut], bs[cut:] + tuple(base_distribution.event_shape),
                         validate_args)

    has_rsample = _from_base("has_rsample")
    support = _from_base("support")
    mean = _from_base("mean")
    mode = _from_base("mode")
    variance = _from_base("variance")

    def expand(self, batch_shape, _instance=None):
        s = _shape(batch_shape)
        n = self.reinterpreted_batch_ndims
        base_shape = s + tuple(self.event_shape)[:n] if n else s
        return Independent(self.base_dist.expand(base_shape), n, validate_args=False)

    def sample(self, sample_shape=(), generator=None):
        return self.base_dist.sample(sample_shape, generator=generator)

    def rsample(self, sample_shape=(), generator=None):
        return self.base_dist.rsample(sample_shape, generator=generator)

    def log_prob(self, value):
        return _sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        return _sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def __repr__(self):
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"


class MultivariateNormal(Distribution):
    """Multivariate normal N(loc, Σ) with Σ = L Lᵀ given by ``scale_tril`` L (lower
    triangular, positive diagonal) or by ``covariance_matrix`` (its Cholesky factor is taken):
    log p(x) = −½(k log 2π + ‖L⁻¹(x − μ)‖²) − Σ log Lᵢᵢ; ``rsample`` = μ + L ε.

    Example: ``MultivariateNormal(fastdl.zeros(2), scale_tril=fastdl.eye(2)).rsample((4,))``"""

    arg_constraints = {"loc": C.real_vector, "scale_tril": C.lower_cholesky}
    support = C.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        fd = _fd()
        given = [m is not None for m in (covariance_matrix, precision_matrix, scale_tril)]
        if sum(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        loc = _as_float_tensor(loc)
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        if scale_tril is None:
            m = covariance_matrix if covariance_matrix is not None else precision_matrix
            m = _as_float_tensor(m)
            if m.dim() < 2:
                raise ValueError("covariance_matrix/precision_matrix must be at least "
                                 "two-dimensional, with optional leading batch dimensions")
            if precision_matrix is not None:
                m = fd.tensor(np.linalg.inv(_arr(m)))
            try:
                scale_tril = fd.linalg.cholesky(m)
            except AttributeError:  # no differentiable cholesky: factor without a graph
                scale_tril = fd.tensor(np.linalg.cholesky(_arr(m)))
        scale_tril = _as_float_tensor(scale_tril)
        if scale_tril.dim() < 2:
            raise ValueError("scale_tril matrix must be at least two-dimensional, with "
                             "optional leading batch dimensions")
        k = int(loc.shape[-1])
        if tuple(scale_tril.shape[-2:]) != (k, k):
            raise ValueError(f"scale_tril must be ({k}, {k}) to match loc of shape "
                             f"{tuple(loc.shape)}, got {tuple(scale_tril.shape)}")
        batch = np.broadcast_shapes(tuple(loc.shape[:-1]), tuple(scale_tril.shape[:-2]))
        self.loc = loc.expand(*batch, k) if tuple(loc.shape[:-1]) != batch else loc
        self.scale_tril = scale_tril.expand(*batch, k, k) if \
            tuple(scale_tril.shape[:-2]) != batch else scale_tril
        super().__init__(batch, (k,), validate_args)

    def _diag(self):
        fd = _fd()
        k = self.event_shape[0]
        eye = fd.tensor(np.eye(k, dtype=_np_dtype(self.scale_tril)))
        return (self.scale_tril * eye).sum(-1)

    def _half_log_det(self):
        return self._diag().log().sum(-1)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def covariance_matrix(self):
        return self.scale_tril @ self.scale_tril.transpose(-1, -2)

    @property
    def variance(self):
        return (self.scale_tril ** 2).sum(-1)

    def expand(self, batch_shape, _instance=None):
        s = _shape(batch_shape)
        k = self.event_shape[0]
        return MultivariateNormal(self.loc.expand(*s, k), scale_tril=self.scale_tril.expand(
            *s, k, k), validate_args=False)

    def rsample(self, sample_shape=(), generator=None):
        fd = _fd()
        shape = self._extended_shape(sample_shape)
        eps = fd.tensor(_rng(generator).standard_normal(shape).astype(_np_dtype(self.loc)))
        return self.loc + (self.scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        value = _as_float_tensor(value)
        if self._validate_args:
            self._validate_sample(value)
        diff = (value - self.loc).unsqueeze(-1)
        z = tri_solve(self.scale_tril, diff).squeeze(-1)
        k = self.event_shape[0]
        M = (z ** 2).sum(-1)
        return -0.5 * (k * math.log(2 * math.pi) + M) - self._half_log_det()

    def entropy(self):
        k = self.event_shape[0]
        return 0.5 * k * (1.0 + math.log(2 * math.pi)) + self._half_log_det()


def tri_solve(L, B):
    """X with L X = B for lower-triangular ``L`` (…, k, k) and ``B`` (…, k, m), differentiable
    in both: dB = L⁻ᵀ dX, dL = −tril(dB Xᵀ).

    Example: ``tri_solve(scale_tril, (x - mu).unsqueeze(-1))``"""
    return _TriSolve.apply(L, B)


def _tri_solve_op():
    from ..autograd.function import _Op

    class _TriSolveOp(_Op):
        @staticmethod
        def forward(ctx, L, B):
            X = np.linalg.solve(L, B)
            ctx.save_for_backward(L, X)
            ctx.shapes = (L.shape, B.shape)
            return X.astype(np.result_type(L.dtype, B.dtype), copy=False)

        @staticmethod
        def backward(ctx, g):
            L, X = ctx.saved_tensors
            Ls, Bs = ctx.shapes
            dB = np.linalg.solve(np.swapaxes(L, -1, -2), g)
            dL = -np.tril(dB @ np.swapaxes(X, -1, -2))
            return _reduce(dL, Ls), _reduce(dB, Bs)

    return _TriSolveOp


def _reduce(g, shape):
    while g.ndim > len(shape):
        g = g.sum(0)
    for i, (a, b) in enumerate(zip(g.shape, shape)):
        if b == 1 and a != 1:
            g = g.sum(i, keepdims=True)
    return g


class _Lazy:
    op = None

    def apply(self, *args):
        if _Lazy.op is None:
            _Lazy.op = _tri_solve_op()
        return _Lazy.op.apply(*args)


_TriSolve = _Lazy()
