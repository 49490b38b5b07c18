"""Dropout: Philox4x32-10 masks, reproducibility, inverted scaling, channel dropout."""
import importlib

import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl import _C
from fastdl.testing import assert_close, use_threads
from fastdl.testing.reference import eltwise as R


def _seed_after(s):
    """The kernel seed the first dropout call draws after fastdl.manual_seed(s)."""
    return int(np.random.default_rng(s).integers(0, 2**63 - 1))


def test_philox_known_answers():
    """Random123's known-answer vectors for Philox4x32-10."""
    kat = [([0, 0, 0, 0], (0, 0), [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
           ([0xFFFFFFFF] * 4, (0xFFFFFFFF, 0xFFFFFFFF),
            [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
           ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], (0xA4093822, 0x299F31D0),
            [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1])]
    for ctr, key, want in kat:
        assert [int(v) for v in R.philox4x32_10(ctr, key)] == want


def test_kernel_stream_matches_reference(isa):
    for seed in (0, 1, 2**62 + 12345, 2**63 - 2):
        assert np.array_equal(_C.dropout_words(1000, seed), R.philox_words_ref(seed, 1000))
        assert _C.philox_word(seed, 777) == R.philox_words_ref(seed, 778)[777]


@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000, 50_001])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_matches_reference(isa, n, dtype):
    x = np.random.default_rng(n).standard_normal(n).astype(dtype)
    fastdl.manual_seed(5)
    y = F.dropout(fastdl.tensor(x), p=0.3)
    ref = R.dropout_ref(x, 0.3, _seed_after(5))
    assert_close(y, ref.astype(dtype), rtol=1e-6 if dtype == np.float32 else 1e-15, atol=0)


def test_reproducible_and_fresh():
    x = fastdl.ones(10_000)
    fastdl.manual_seed(3)
    a = F.dropout(x, 0.5).numpy()
    b = F.dropout(x, 0.5).numpy()
    fastdl.manual_seed(3)
    a2 = F.dropout(x, 0.5).numpy()
    assert np.array_equal(a, a2)
    assert not np.array_equal(a, b)


def test_threads_and_isas_same_mask():
    x = fastdl.tensor(np.random.default_rng(0).standard_normal(300_001).astype(np.float32))
    outs = []
    for n in (1, 2):
        with use_threads(n):
            fastdl.manual_seed(9)
            outs.append(F.dropout(x, 0.4).numpy().copy())
    for isa in fastdl.testing.isa_paths():
        with fastdl.testing.use_isa(isa):
            fastdl.manual_seed(9)
            outs.append(F.dropout(x, 0.4).numpy().copy())
    for o in outs[1:]:
        assert np.array_equal(outs[0], o)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_inverted_scaling_and_rate(p):
    n = 1_000_000
    y = F.dropout(fastdl.ones(n), p).numpy()
    kept = y != 0
    assert_close(y[kept], np.full(kept.sum(), 1 / (1 - p), np.float32))
    frac = kept.mean()
    sd = np.sqrt(p * (1 - p) / n)
    assert abs(frac - (1 - p)) < 6 * sd
    assert abs(y.mean() - 1.0) < 6 * sd / (1 - p)


def test_stream_statistics():
    w = _C.dropout_words(1 << 20, 12345).astype(np.float64) / 2**32
    assert abs(w.mean() - 0.5) < 6 * np.sqrt(1 / 12 / w.size)
    hist = np.bincount((w * 256).astype(int), minlength=256)
    chi2 = ((hist - w.size / 256) ** 2 / (w.size / 256)).sum()
    assert chi2 < 255 + 6 * np.sqrt(2 * 255)
    c = np.corrcoef(w[:-1], w[1:])[0, 1]
    assert abs(c) < 6 / np.sqrt(w.size)


def test_backward_uses_same_mask():
    x = fastdl.randn(5000, requires_grad=True)
    y = F.dropout(x, 0.3)
    g = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    y.backward(fastdl.tensor(g))
    mask = y.detach().numpy() / x.detach().numpy()
    assert_close(x.grad, g * mask, rtol=1e-5, atol=1e-6)
    xd = fastdl.randn(4, 6, dtype=fastdl.float64, requires_grad=True)
    fastdl.manual_seed(1)
    s = fastdl.random.next_kernel_seed()

    op = importlib.import_module("fastdl.nn.functional.dropout")._Dropout

    def f(t):  # the same mask on every evaluation: a fixed seed
        return op.apply(t, 0.25, s, 1)
    assert fastdl.testing.gradcheck(f, [xd])


def test_edge_cases():
    x = fastdl.randn(100)
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 0.7, training=False) is x
    assert np.all(F.dropout(x, 1.0).numpy() == 0)
    assert F.dropout(fastdl.randn(0, 3), 0.5).shape == (0, 3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, -0.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(2.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout2d(fastdl.randn(2, 3, 4, 4), 1.01)
    with pytest.raises(ValueError, match="4-D"):
        F.dropout2d(fastdl.randn(3, 4), 0.5)
    with pytest.raises(TypeError, match="dropout"):
        F.dropout(fastdl.tensor([1, 2, 3]), 0.5)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        _C.dropout(np.zeros(3, np.float32), float("nan"), 0)


def test_inplace():
    x = fastdl.ones(1000)
    fastdl.manual_seed(2)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and x._version == 1
    fastdl.manual_seed(2)
    assert_close(x, F.dropout(fastdl.ones(1000), 0.5), rtol=0, atol=0)
    a = fastdl.randn(100, requires_grad=True)
    h = a * 1.0
    F.dropout(h, 0.5, inplace=True).sum().backward()
    assert set(np.unique(a.grad.numpy())) <= {0.0, 2.0}


def test_dropout2d():
    fastdl.manual_seed(4)
    x = fastdl.ones(8, 16, 5, 7)
    y = F.dropout2d(x, 0.5).numpy()
    planes = y.reshape(8 * 16, -1)
    assert np.all((planes == 0).all(1) | (planes == 2).all(1))
    keep = R.dropout_mask_ref(_seed_after(4), 8 * 16, 0.5)
    assert np.array_equal((planes[:, 0] != 0), keep)
    y3 = F.dropout2d(fastdl.ones(4, 6, 9), 0.25).numpy()  # (N, C, L): channel-wise
    assert np.all((y3 == 0).all(2) | (y3 == np.float32(1 / 0.75)).all(2))
    t = fastdl.randn(2, 3, 4, 4, requires_grad=True)
    out = F.dropout2d(t, 0.5)
    out.sum().backward()
    assert_close(t.grad, (out.detach().numpy() != 0) * 2.0)


def test_layers_train_eval():
    d = nn.Dropout(0.5)
    x = fastdl.ones(1000)
    assert (d(x).numpy() == 0).any()
    d.eval()
    assert d(x) is x
    d2 = nn.Dropout2d(0.3, inplace=False)
    assert "p=0.3" in repr(d2)
    d2.eval()
    x4 = fastdl.randn(2, 3, 4, 4)
    assert d2(x4) is x4


def test_dropout1d_and_softmax2d():
    x = fastdl.tensor(np.ones((4, 6, 9), np.float32))
    y = fastdl.nn.Dropout1d(0.5)(x).numpy()
    rows = y.reshape(24, 9)
    assert set(np.unique(rows)) <= {0.0, 2.0}
    assert all(len(np.unique(r)) == 1 for r in rows)  # whole rows kept or dropped
    assert 0 < (rows[:, 0] == 0).sum() < 24
    y2 = F.dropout1d(fastdl.tensor(np.ones((6, 9), np.float32)), 0.5).numpy()
    assert all(len(np.unique(r)) == 1 for r in y2)
    m = fastdl.nn.Dropout1d(0.5)
    m.eval()
    assert np.array_equal(m(x).numpy(), x.numpy())
    with pytest.raises(ValueError, match="2-D"):
        F.dropout1d(fastdl.tensor(np.ones(5, np.float32)))
    z = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    s = fastdl.nn.Softmax2d()(fastdl.tensor(z)).numpy()
    e = np.exp(z - z.max(axis=1, keepdims=True))
    assert_close(s, e / e.sum(axis=1, keepdims=True), rtol=1e-12, atol=1e-14)
