"""fastdl.Generator and the random ops: reproducibility (seeds, generator=, state round
trips), distributions checked by their moments, shapes/dtypes, torch's argument forms, and
errors."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import assert_close


def test_generator_seed_state_roundtrip():
    g = fastdl.Generator().manual_seed(42)
    assert isinstance(g, fastdl.Generator) and g.initial_seed() == 42
    a = fastdl.rand(5, generator=g)
    state = g.get_state()
    assert state.numpy().dtype == np.uint8
    b = fastdl.randn(5, generator=g)
    g.set_state(state)
    assert np.array_equal(fastdl.randn(5, generator=g).numpy(), b.numpy())
    g2 = fastdl.Generator().manual_seed(42)
    assert np.array_equal(fastdl.rand(5, generator=g2).numpy(), a.numpy())
    s = g.seed()
    assert g.initial_seed() == s
    with pytest.raises(RuntimeError, match="not a state"):
        g.set_state(fastdl.tensor(np.frombuffer(b"garbage", np.uint8).copy()))
    with pytest.raises(RuntimeError, match="CPU"):
        fastdl.Generator("cuda")


def test_default_generator_functions():
    r = fastdl.manual_seed(7)
    assert r is fastdl.default_generator and fastdl.initial_seed() == 7
    st = fastdl.get_rng_state()
    a = fastdl.randn(4)
    fastdl.set_rng_state(st)
    assert np.array_equal(fastdl.randn(4).numpy(), a.numpy())
    fastdl.manual_seed(7)
    assert np.array_equal(fastdl.randn(4).numpy(), a.numpy())
    s = fastdl.seed()
    assert fastdl.initial_seed() == s


def test_every_sampler_takes_a_generator():
    calls = [
        lambda g: fastdl.rand(3, generator=g),
        lambda g: fastdl.randn(3, generator=g),
        lambda g: fastdl.randint(0, 10, (3,), generator=g),
        lambda g: fastdl.randperm(5, generator=g),
        lambda g: fastdl.rand_like(fastdl.zeros(3), generator=g),
        lambda g: fastdl.randn_like(fastdl.zeros(3), generator=g),
        lambda g: fastdl.randint_like(fastdl.zeros(3), 5, generator=g),
        lambda g: fastdl.normal(0.0, 1.0, (3,), generator=g),
        lambda g: fastdl.bernoulli(fastdl.full((3,), 0.5), generator=g),
        lambda g: fastdl.poisson(fastdl.full((3,), 3.0), generator=g),
        lambda g: fastdl.multinomial(fastdl.ones(5), 3, generator=g),
        lambda g: fastdl.empty(3).uniform_(generator=g),
        lambda g: fastdl.empty(3).normal_(generator=g),
        lambda g: fastdl.empty(3).bernoulli_(0.5, generator=g),
        lambda g: fastdl.empty(3).exponential_(generator=g),
        lambda g: fastdl.empty(3).random_(0, 100, generator=g),
        lambda g: fastdl.empty(3).geometric_(0.5, generator=g),
        lambda g: fastdl.empty(3).cauchy_(generator=g),
        lambda g: fastdl.empty(3).log_normal_(generator=g),
    ]
    for f in calls:
        a = f(fastdl.Generator().manual_seed(3)).numpy()
        b = f(fastdl.Generator().manual_seed(3)).numpy()
        assert np.array_equal(a, b)


N = 200_000


@pytest.mark.parametrize("name,fill,mean,var", [
    ("uniform_", lambda t: t.uniform_(-1, 3), 1.0, 16 / 12),
    ("normal_", lambda t: t.normal_(2.0, 0.5), 2.0, 0.25),
    ("bernoulli_", lambda t: t.bernoulli_(0.3), 0.3, 0.21),
    ("exponential_", lambda t: t.exponential_(2.0), 0.5, 0.25),
    ("random_", lambda t: t.random_(0, 10), 4.5, 99 / 12),
    ("geometric_", lambda t: t.geometric_(0.25), 4.0, 0.75 / 0.0625),
    ("log_normal_", lambda t: t.log_normal_(0.0, 0.5), np.exp(0.125),
     (np.exp(0.25) - 1) * np.exp(0.25)),
])
def test_inplace_initialisers_moments(name, fill, mean, var):
    t = fastdl.empty(N, dtype=fastdl.float64)
    r = fill(t)
    assert r is t and t._version == 1
    x = t.numpy()
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / N)
    assert abs(x.var() - var) < 0.05 * var


def test_cauchy_median_and_integer_ranges():
    t = fastdl.empty(N, dtype=fastdl.float64).cauchy_(1.0, 2.0)
    assert abs(np.median(t.numpy()) - 1.0) < 0.05
    q = np.quantile(t.numpy(), [0.25, 0.75])
    assert_close(q, np.array([-1.0, 3.0]), atol=0.1, rtol=0)
    r = fastdl.zeros(1000, dtype=fastdl.int64).random_(5)
    assert r.numpy().min() == 0 and r.numpy().max() == 4
    ri = fastdl.randint(3, 6, (1000,))
    assert ri.numpy().dtype == np.int64 and set(np.unique(ri.numpy())) == {3, 4, 5}
    assert fastdl.randint(4, (2, 3)).shape == (2, 3)
    assert fastdl.randint_like(fastdl.zeros(3, 2), 2, 4).numpy().min() >= 2


def test_factories_shapes_dtypes_and_flags():
    assert fastdl.rand(2, 3).shape == (2, 3) and fastdl.rand((2, 3)).shape == (2, 3)
    assert fastdl.randn(4, dtype=fastdl.float64).numpy().dtype == np.float64
    assert fastdl.rand(2, requires_grad=True).requires_grad
    assert fastdl.randn_like(fastdl.zeros(2, dtype=fastdl.float64)).numpy().dtype == np.float64
    p = fastdl.randperm(10).numpy()
    assert sorted(p) == list(range(10)) and p.dtype == np.int64
    out = fastdl.empty(3)
    assert fastdl.rand(3, out=out) is out
    m = fastdl.normal(fastdl.arange(4).double(), 0.0)
    assert_close(m.numpy(), np.arange(4.0))
    m = fastdl.normal(2.0, fastdl.zeros(3))
    assert_close(m.numpy(), np.full(3, 2.0, np.float32))
    assert fastdl.normal(0.0, 1.0, size=(2, 5)).shape == (2, 5)
    assert fastdl.poisson(fastdl.zeros(3)).numpy().sum() == 0
    x = fastdl.poisson(fastdl.full((N,), 4.0, dtype=fastdl.float64)).numpy()
    assert abs(x.mean() - 4) < 0.05
    b = fastdl.bernoulli(fastdl.full((N,), 0.2)).numpy()
    assert abs(b.mean() - 0.2) < 0.01 and b.dtype == np.float32


def test_multinomial_frequencies_and_without_replacement():
    w = fastdl.tensor([[1.0, 3.0, 0.0, 6.0], [0.0, 0.0, 5.0, 5.0]])
    s = fastdl.multinomial(w, 20000, replacement=True).numpy()
    assert s.shape == (2, 20000) and s.dtype == np.int64
    f0 = np.bincount(s[0], minlength=4) / 20000
    assert_close(f0, np.array([0.1, 0.3, 0.0, 0.6]), atol=0.02, rtol=0)
    f1 = np.bincount(s[1], minlength=4) / 20000
    assert_close(f1, np.array([0, 0, 0.5, 0.5]), atol=0.02, rtol=0)
    s = fastdl.multinomial(w[0], 3).numpy()
    assert sorted(s) == [0, 1, 3]
    # the first draw without replacement follows the weights
    first = np.array([fastdl.multinomial(w[0], 2).numpy()[0] for _ in range(3000)])
    assert_close(np.bincount(first, minlength=4) / 3000, np.array([0.1, 0.3, 0, 0.6]),
                 atol=0.04, rtol=0)
    # fewer positive weights than samples: torch then draws zero weights after the others
    s = fastdl.multinomial(w[1], 3).tolist()
    assert sorted(s[:2]) == [2, 3] and s[2] in (0, 1)
    with pytest.raises(RuntimeError, match="element < 0"):
        fastdl.multinomial(fastdl.tensor([-1.0, 2.0]), 1)
    with pytest.raises(RuntimeError, match="without replacement"):
        fastdl.multinomial(fastdl.ones(3), 4)


def test_random_errors():
    with pytest.raises(RuntimeError, match="leaf Variable"):
        fastdl.zeros(3, requires_grad=True).normal_()
    with fastdl.no_grad():
        fastdl.zeros(3, requires_grad=True).normal_()
    with pytest.raises(RuntimeError, match="std >= 0"):
        fastdl.empty(3).normal_(0, -1)
    with pytest.raises(RuntimeError, match="from"):
        fastdl.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="size"):
        fastdl.randint(5)
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        fastdl.bernoulli(fastdl.full((2,), 1.5))
    with pytest.raises(RuntimeError, match="CPU"):
        fastdl.rand(2, device="cuda")
    with pytest.raises(TypeError, match="Generator"):
        fastdl.multinomial(fastdl.ones(2), 1, generator=np.random.default_rng(0))
