"""fastdl.distributions against torch.distributions (values and gradients in float64),
sampling statistics against the analytic moments (always), shapes and errors."""
import numpy as np
import pytest

import fastdl
import fastdl.distributions as D

rng = np.random.default_rng(7)
LOC = rng.normal(size=(3,))
SCALE = rng.random(3) + 0.5
X3 = rng.normal(size=(4, 3))
LOGITS = rng.normal(size=(2, 5))
PROBS = rng.random(4) * 0.8 + 0.1
XB = (rng.random((2, 4)) > 0.5).astype(np.float64)
LOW, HIGH = np.array([-1.0, 0.5]), np.array([1.0, 2.5])
L = np.tril(rng.normal(size=(3, 3)))
L[np.diag_indices(3)] = np.abs(L[np.diag_indices(3)]) + 0.5
L2 = np.eye(3) * 1.5 + np.tril(rng.normal(size=(3, 3)) * 0.2, -1)


def _fd(a):
    return fastdl.tensor(np.array(a, np.float64), requires_grad=True)


# name -> (builder(lib, params) -> dist, params, values for log_prob, other for KL or None)
def _cases(td):
    return {
        "Normal": (lambda m, p: m.Normal(p[0], p[1]), [LOC, SCALE], X3,
                   lambda m, p: m.Normal(p[0] * 0 + 0.3, p[1] * 0 + 2.0)),
        "Bernoulli_probs": (lambda m, p: m.Bernoulli(probs=p[0]), [PROBS], XB,
                            lambda m, p: m.Bernoulli(probs=p[0] * 0 + 0.3)),
        "Bernoulli_logits": (lambda m, p: m.Bernoulli(logits=p[0]), [LOC], XB[:, :3],
                             lambda m, p: m.Bernoulli(logits=p[0] * 0 - 1.0)),
        "Categorical_logits": (lambda m, p: m.Categorical(logits=p[0]), [LOGITS],
                               np.array([[1, 4], [0, 2], [3, 3]]),
                               lambda m, p: m.Categorical(logits=p[0] * 0.5)),
        "Categorical_probs": (lambda m, p: m.Categorical(probs=p[0]), [np.exp(LOGITS)],
                              np.array([2, 1]),
                              lambda m, p: m.Categorical(probs=p[0] * 0 + 0.2)),
        "OneHotCategorical": (lambda m, p: m.OneHotCategorical(logits=p[0]), [LOGITS],
                              np.eye(5)[[[1, 4], [0, 2]]],
                              lambda m, p: m.OneHotCategorical(logits=p[0] * 2)),
        "Uniform": (lambda m, p: m.Uniform(p[0], p[1]), [LOW, HIGH],
                    np.array([[0.0, 1.0], [0.5, 2.0]]),
                    lambda m, p: m.Uniform(p[0] - 1, p[1] + 1)),
        "Independent_Normal": (lambda m, p: m.Independent(m.Normal(p[0], p[1]), 1),
                               [LOC, SCALE], X3,
                               lambda m, p: m.Independent(m.Normal(p[0] * 0, p[1] * 0 + 1), 1)),
        "MultivariateNormal": (lambda m, p: m.MultivariateNormal(p[0], scale_tril=p[1]),
                               [LOC, L, L2], X3,
                               lambda m, p: m.MultivariateNormal(p[0] * 0 + 0.1,
                                                                 scale_tril=p[2])),
    }


NAMES = list(_cases(None))


@pytest.mark.parametrize("name", NAMES)
def test_against_torch_values_and_gradients(name):
    torch = pytest.importorskip("torch")
    import torch.distributions as TD
    build, params, values, other = _cases(None)[name]
    pt = [torch.tensor(p, requires_grad=True) for p in params]
    pf = [_fd(p) for p in params]
    dt, df = build(TD, pt), build(D, pf)
    assert tuple(df.batch_shape) == tuple(dt.batch_shape)
    assert tuple(df.event_shape) == tuple(dt.event_shape)
    vt = torch.tensor(values)
    vf = fastdl.tensor(values)
    lt, lf = dt.log_prob(vt), df.log_prob(vf)
    np.testing.assert_allclose(lf.detach().numpy(), lt.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    et, ef = dt.entropy(), df.entropy()
    np.testing.assert_allclose(ef.detach().numpy(), et.detach().numpy(), rtol=1e-10)
    kt, kf = TD.kl_divergence(dt, other(TD, pt)), D.kl_divergence(df, other(D, pf))
    np.testing.assert_allclose(kf.detach().numpy(), kt.detach().numpy(), rtol=1e-9,
                               atol=1e-12)
    for attr in ("mean", "variance"):
        try:
            want = getattr(dt, attr).detach().numpy()
        except NotImplementedError:
            continue
        np.testing.assert_allclose(getattr(df, attr).detach().numpy(), want, rtol=1e-10,
                                   equal_nan=True)
    finite = np.isfinite(lt.detach().numpy())
    wt = torch.tensor(finite.astype(np.float64))
    obj_t = (lt * wt).nan_to_num(0.0).sum() + et.sum() + kt.sum()
    obj_f = (lf * fastdl.tensor(finite.astype(np.float64))).sum() + ef.sum() + kf.sum() \
        if finite.all() else ef.sum() + kf.sum()
    if not finite.all():
        obj_t = et.sum() + kt.sum()
    obj_t.backward()
    obj_f.backward()
    for a, b in zip(pt, pf):
        if a.grad is None:
            continue
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_kl_uniform_normal_and_infinite_cases_against_torch():
    torch = pytest.importorskip("torch")
    import torch.distributions as TD
    p_t, p_f = TD.Uniform(torch.tensor(LOW), torch.tensor(HIGH)), D.Uniform(
        fastdl.tensor(LOW), fastdl.tensor(HIGH))
    q_t, q_f = TD.Normal(torch.tensor(0.3, dtype=torch.float64), torch.tensor(1.7, dtype=torch.float64)), D.Normal(
        fastdl.tensor(0.3, dtype=fastdl.float64), fastdl.tensor(1.7, dtype=fastdl.float64))
    np.testing.assert_allclose(D.kl_divergence(p_f, q_f).numpy(),
                               TD.kl_divergence(p_t, q_t).numpy(), rtol=1e-10)
    narrow_t = TD.Uniform(torch.tensor(LOW + 0.5), torch.tensor(HIGH))
    narrow_f = D.Uniform(fastdl.tensor(LOW + 0.5), fastdl.tensor(HIGH))
    np.testing.assert_array_equal(D.kl_divergence(p_f, narrow_f).numpy(),
                                  TD.kl_divergence(p_t, narrow_t).numpy())
    z = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    w = np.array([[0.0, 0.5, 0.5], [0.3, 0.3, 0.4]])
    np.testing.assert_array_equal(
        D.kl_divergence(D.Categorical(probs=fastdl.tensor(z)),
                        D.Categorical(probs=fastdl.tensor(w))).numpy(),
        TD.kl_divergence(TD.Categorical(probs=torch.tensor(z)),
                         TD.Categorical(probs=torch.tensor(w))).numpy())


def test_normal_against_closed_forms():
    d = D.Normal(fastdl.tensor(LOC), fastdl.tensor(SCALE))
    want = (-((X3 - LOC) ** 2) / (2 * SCALE ** 2) - np.log(SCALE) -
            0.5 * np.log(2 * np.pi))
    np.testing.assert_allclose(d.log_prob(fastdl.tensor(X3)).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), 0.5 + 0.5 * np.log(2 * np.pi) +
                               np.log(SCALE), rtol=1e-12)


def test_rsample_is_reparameterised():
    fastdl.manual_seed(3)
    loc, scale = _fd(LOC), _fd(SCALE)
    x = D.Normal(loc, scale).rsample((5,))
    assert tuple(x.shape) == (5, 3)
    x.sum().backward()
    eps = (x.detach().numpy() - LOC) / SCALE
    np.testing.assert_allclose(loc.grad.numpy(), np.full(3, 5.0))
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0), rtol=1e-12)
    lt = _fd(L)
    m = D.MultivariateNormal(_fd(LOC), scale_tril=lt)
    y = m.rsample((7,))
    assert tuple(y.shape) == (7, 3)
    y.sum().backward()
    e = np.linalg.solve(L, (y.detach().numpy() - LOC).T)   # (3, 7)
    np.testing.assert_allclose(lt.grad.numpy(), np.ones((3, 1)) @ e.sum(1)[None],
                               atol=1e-10)


@pytest.mark.parametrize("name", ["Normal", "Bernoulli_probs", "Categorical_logits",
                                  "OneHotCategorical", "Uniform", "MultivariateNormal"])
def test_sampling_moments(name):
    fastdl.manual_seed(11)
    build, params, _, _ = _cases(None)[name]
    d = build(D, [fastdl.tensor(p) for p in params])
    n = 40000
    s = d.sample((n,))
    assert tuple(s.shape) == (n,) + tuple(d.batch_shape) + tuple(d.event_shape)
    a = s.numpy().astype(np.float64)
    if name == "Categorical_logits":
        p = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)
        freq = np.stack([(a == k).mean(0) for k in range(5)], -1)
        np.testing.assert_allclose(freq, p, atol=0.015)
        return
    mean, var = d.mean.numpy(), d.variance.numpy()
    np.testing.assert_allclose(a.mean(0), mean, atol=5 * np.sqrt(var.max() / n) + 1e-3)
    np.testing.assert_allclose(a.var(0), var, rtol=0.05, atol=1e-3)
    if name == "MultivariateNormal":
        np.testing.assert_allclose(np.cov(a.T), L @ L.T, atol=0.08)


def test_seeded_and_generator_reproducible():
    d = D.Normal(fastdl.zeros(4), fastdl.ones(4))
    fastdl.manual_seed(5)
    a = d.sample((3,)).numpy()
    fastdl.manual_seed(5)
    b = d.sample((3,)).numpy()
    np.testing.assert_array_equal(a, b)
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(d.sample((2,), generator=g1).numpy(),
                                  d.sample((2,), generator=g2).numpy())


def test_expand_and_independent_shapes():
    d = D.Normal(fastdl.tensor(LOC), fastdl.tensor(SCALE)).expand((4, 3))
    assert tuple(d.batch_shape) == (4, 3)
    ind = D.Independent(d, 1)
    assert tuple(ind.batch_shape) == (4,) and tuple(ind.event_shape) == (3,)
    assert tuple(ind.log_prob(fastdl.tensor(X3)).shape) == (4,)
    c = D.Categorical(logits=fastdl.tensor(LOGITS)).expand((3, 2))
    assert tuple(c.batch_shape) == (3, 2)
    assert tuple(c.sample((6,)).shape) == (6, 3, 2)
    sup = D.Categorical(logits=fastdl.tensor(LOGITS)).enumerate_support()
    assert tuple(sup.shape) == (5, 2)


@pytest.mark.parametrize("call,match", [
    (lambda: D.Normal(fastdl.tensor([0.0]), fastdl.tensor([-1.0])), "scale"),
    (lambda: D.Bernoulli(probs=fastdl.tensor([1.5])), "probs"),
    (lambda: D.Bernoulli(), "Either `probs` or `logits`"),
    (lambda: D.Categorical(probs=fastdl.tensor(0.5)), "one-dimensional"),
    (lambda: D.Uniform(fastdl.tensor([1.0]), fastdl.tensor([0.0])), "low"),
    (lambda: D.MultivariateNormal(fastdl.zeros(2)), "Exactly one"),
    (lambda: D.MultivariateNormal(fastdl.zeros(2), scale_tril=fastdl.eye(3)), "scale_tril"),
    (lambda: D.Independent(D.Normal(0.0, 1.0), 1), "reinterpreted_batch_ndims"),
    (lambda: D.Normal(fastdl.zeros(3), fastdl.ones(3)).log_prob(fastdl.zeros(2)),
     "broadcastable"),
    (lambda: D.Bernoulli(probs=fastdl.tensor([0.5])).log_prob(fastdl.tensor([0.5])),
     "support"),
    (lambda: D.Categorical(logits=fastdl.zeros(3)).log_prob(fastdl.tensor(3)), "support"),
    (lambda: D.MultivariateNormal(fastdl.zeros(2), scale_tril=fastdl.eye(2)).log_prob(
        fastdl.zeros(3)), "event_shape"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_no_validation_and_unknown_kl():
    D.Normal(fastdl.tensor([0.0]), fastdl.tensor([-1.0]), validate_args=False)
    with pytest.raises(NotImplementedError, match="Normal and q = Bernoulli"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(probs=fastdl.tensor(0.5)))
    with pytest.raises(NotImplementedError, match="rsample"):
        D.Categorical(logits=fastdl.zeros(3)).rsample()


def test_cdf_icdf_against_torch():
    torch = pytest.importorskip("torch")
    import torch.distributions as TD
    dt = TD.Normal(torch.tensor(LOC), torch.tensor(SCALE))
    df = D.Normal(fastdl.tensor(LOC), fastdl.tensor(SCALE))
    np.testing.assert_allclose(df.cdf(fastdl.tensor(X3)).numpy(),
                               dt.cdf(torch.tensor(X3)).numpy(), rtol=1e-10)
    u = np.array([0.05, 0.5, 0.9])
    np.testing.assert_allclose(df.icdf(fastdl.tensor(u)).numpy(),
                               dt.icdf(torch.tensor(u)).numpy(), rtol=1e-8)
    ut, uf = TD.Uniform(torch.tensor(LOW), torch.tensor(HIGH)), D.Uniform(
        fastdl.tensor(LOW), fastdl.tensor(HIGH))
    v = np.array([0.3, 1.0])
    np.testing.assert_allclose(uf.cdf(fastdl.tensor(v)).numpy(),
                               ut.cdf(torch.tensor(v)).numpy())
