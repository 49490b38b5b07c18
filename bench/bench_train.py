"""One training step (forward, cross-entropy, backward, Adam) end to end:

* LeNet-5 (the model of examples/train_lenet.py) on a batch of 64 MNIST-sized images,
* an MLP 784-512-512-10 on a batch of 128,

fastdl vs the same model written in plain NumPy (vectorised: im2col convolutions through
NumPy's BLAS matmul, the reference formulas of the other ops, Adam in NumPy) vs PyTorch CPU,
same thread count (1 and 2: the ``nthreads`` fixture limits fastdl, torch and NumPy's BLAS).
Target: fastdl faster than PyTorch on both models at 2 threads.

Run: ``pytest bench/bench_train.py``; ``extra_info`` holds samples/s and the step's flops
(matrix products and convolutions: forward + 2× for the backward).
"""
import numpy as np
import pytest

import fastdl
from fastdl.bench import HAVE_TORCH, record, rounds, settle, smoke

LENET_BATCH, MLP_BATCH = smoke((64, 128), (4, 4))
MLP_SIZES = (784, 512, 512, 10)


def _data(batch, shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch,) + shape).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    return x, y


# ---- plain NumPy models ---------------------------------------------------------------------
def _uniform(rng, shape, fan_in):
    b = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-b, b, shape).astype(np.float32)


class NumpyAdam:
    """Adam (PyTorch's defaults: betas 0.9, 0.999, eps 1e-8) on lists of arrays."""

    def __init__(self, params, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.p, self.lr, self.b1, self.b2, self.eps, self.t = params, lr, b1, b2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for p, g, m, v in zip(self.p, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)


def _ce(logits, y):
    """Mean cross-entropy and its gradient w.r.t. the logits."""
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    s = e.sum(1, keepdims=True)
    n = len(y)
    loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), y]))
    g = e / s
    g[np.arange(n), y] -= 1
    return loss, g / n


def _conv_fwd(x, w, b, pad):
    n, c, _, _ = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))  # N C Ho Wo k k
    ho, wo = win.shape[2], win.shape[3]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * k * k)
    y = cols @ w.reshape(o, -1).T + b
    return y.reshape(n, ho, wo, o).transpose(0, 3, 1, 2), (cols, xp.shape, ho, wo)


def _conv_bwd(dy, w, cache, pad):
    cols, xshape, ho, wo = cache
    o, c, k, _ = w.shape
    n = dy.shape[0]
    d2 = dy.transpose(0, 2, 3, 1).reshape(-1, o)
    dw = (d2.T @ cols).reshape(w.shape)
    db = d2.sum(0)
    dcols = (d2 @ w.reshape(o, -1)).reshape(n, ho, wo, c, k, k)
    dxp = np.zeros(xshape, np.float32)
    for i in range(k):
        for j in range(k):
            dxp[:, :, i:i + ho, j:j + wo] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    dx = dxp[:, :, pad:-pad, pad:-pad] if pad else dxp
    return dx, dw, db


def _pool_fwd(x):
    n, c, h, w = x.shape
    r = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(
        n, c, h // 2, w // 2, 4)
    idx = r.argmax(-1)
    return np.take_along_axis(r, idx[..., None], -1)[..., 0], (idx, x.shape)


def _pool_bwd(dy, cache):
    idx, shape = cache
    n, c, h, w = shape
    g = np.zeros(dy.shape + (4,), np.float32)
    np.put_along_axis(g, idx[..., None], dy[..., None], -1)
    return g.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(shape)


class NumpyLeNet:
    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.params = [
            _uniform(rng, (6, 1, 5, 5), 25), _uniform(rng, (6,), 25),
            _uniform(rng, (16, 6, 5, 5), 150), _uniform(rng, (16,), 150),
            _uniform(rng, (120, 400), 400), _uniform(rng, (120,), 400),
            _uniform(rng, (84, 120), 120), _uniform(rng, (84,), 120),
            _uniform(rng, (10, 84), 84), _uniform(rng, (10,), 84)]
        self.opt = NumpyAdam(self.params)

    def step(self, x, y):
        w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = self.params
        c1, k1 = _conv_fwd(x, w1, b1, 2)
        r1 = np.maximum(c1, 0)
        p1, q1 = _pool_fwd(r1)
        c2, k2 = _conv_fwd(p1, w2, b2, 0)
        r2 = np.maximum(c2, 0)
        p2, q2 = _pool_fwd(r2)
        f = p2.reshape(len(x), -1)
        h3 = np.maximum(f @ w3.T + b3, 0)
        h4 = np.maximum(h3 @ w4.T + b4, 0)
        out = h4 @ w5.T + b5
        loss, g = _ce(out, y)
        gw5, gb5 = g.T @ h4, g.sum(0)
        g = (g @ w5) * (h4 > 0)
        gw4, gb4 = g.T @ h3, g.sum(0)
        g = (g @ w4) * (h3 > 0)
        gw3, gb3 = g.T @ f, g.sum(0)
        g = (g @ w3).reshape(p2.shape)
        g = _pool_bwd(g, q2) * (c2 > 0)
        g, gw2, gb2 = _conv_bwd(g, w2, k2, 0)
        g = _pool_bwd(g, q1) * (c1 > 0)
        _, gw1, gb1 = _conv_bwd(g, w1, k1, 2)
        self.opt.step([gw1, gb1, gw2, gb2, gw3, gb3, gw4, gb4, gw5, gb5])
        return loss


class NumpyMLP:
    def __init__(self, sizes=MLP_SIZES, seed=0):
        rng = np.random.default_rng(seed)
        self.params = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            self.params += [_uniform(rng, (b, a), a), _uniform(rng, (b,), a)]
        self.opt = NumpyAdam(self.params)

    def step(self, x, y):
        ws, bs = self.params[0::2], self.params[1::2]
        acts = [x]
        h = x
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = h @ w.T + b
            if i < len(ws) - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        loss, g = _ce(h, y)
        grads = []
        for i in range(len(ws) - 1, -1, -1):
            grads = [g.T @ acts[i], g.sum(0)] + grads
            if i:
                g = (g @ ws[i]) * (acts[i] > 0)
        self.opt.step(grads)
        return loss


# ---- fastdl and torch -----------------------------------------------------------------------
def _fastdl_model(kind):
    fastdl.manual_seed(0)
    if kind == "lenet":
        from fastdl.examples.train_lenet import LeNet5
        return LeNet5()
    from fastdl.examples.train_mlp import MLP
    return MLP(MLP_SIZES[0], MLP_SIZES[1:-1], MLP_SIZES[-1])


def _torch_model(kind):
    import torch
    import torch.nn as tnn
    torch.manual_seed(0)
    if kind == "lenet":
        return tnn.Sequential(
            tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
            tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
            tnn.Linear(84, 10))
    layers, sizes = [tnn.Flatten()], MLP_SIZES
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(tnn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(tnn.ReLU())
    return tnn.Sequential(*layers)


CASES = {"lenet": (LENET_BATCH, (1, 28, 28)), "mlp": (MLP_BATCH, (784,))}


def train_flops(kind, batch):
    """Flops of one training step: every convolution and matrix product of the forward
    (2 per multiply-add), times 3 (the backward computes two products per forward one)."""
    if kind == "lenet":  # conv 1->6 5x5 pad 2 on 28x28, conv 6->16 5x5 on 14x14 -> 10x10
        f = 2 * 6 * 28 * 28 * 25 + 2 * 16 * 10 * 10 * 150 + 2 * (400 * 120 + 120 * 84 + 84 * 10)
    else:
        f = 2 * sum(a * b for a, b in zip(MLP_SIZES[:-1], MLP_SIZES[1:]))
    return 3.0 * f * batch


def _finish(benchmark, batch, kind, side):
    record(benchmark, flops=train_flops(kind, batch), side=side, op=f"train step {kind}",
           shape=f"batch {batch}")
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        benchmark.extra_info["samples_per_s"] = round(batch / stats.stats.min)
    settle(0.3 if side != "fastdl" else 0.05)


def _time_train_step(benchmark, lib, make_model, kind, side):
    """Times one Adam train step of the `kind` model on `lib` (fastdl or torch): the same
    batch, loss and optimiser on both sides."""
    batch, shape = CASES[kind]
    x, y = _data(batch, shape)
    xt, yt = lib.from_numpy(x), lib.from_numpy(y)
    model = make_model(kind)
    crit = lib.nn.CrossEntropyLoss()
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = crit(model(xt), yt)
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step()
    settle()
    benchmark.pedantic(step, rounds=rounds(60 if kind == "lenet" else 40), warmup_rounds=2)
    _finish(benchmark, batch, kind, side)


@pytest.mark.parametrize("kind", ["lenet", "mlp"])
def test_train_step_fastdl(benchmark, nthreads, kind):
    benchmark.group = f"train step: {kind} batch {CASES[kind][0]}, {nthreads} thread(s)"
    _time_train_step(benchmark, fastdl, _fastdl_model, kind, "fastdl")


@pytest.mark.parametrize("kind", ["lenet", "mlp"])
def test_train_step_numpy(benchmark, nthreads, kind):
    benchmark.group = f"train step: {kind} batch {CASES[kind][0]}, {nthreads} thread(s)"
    batch, shape = CASES[kind]
    x, y = _data(batch, shape)
    model = NumpyLeNet() if kind == "lenet" else NumpyMLP()
    for _ in range(2):
        model.step(x, y)
    settle()
    benchmark.pedantic(model.step, args=(x, y), rounds=rounds(20), warmup_rounds=1)
    _finish(benchmark, batch, kind, "numpy")


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
@pytest.mark.parametrize("kind", ["lenet", "mlp"])
def test_train_step_torch(benchmark, nthreads, kind):
    import torch
    benchmark.group = f"train step: {kind} batch {CASES[kind][0]}, {nthreads} thread(s)"
    _time_train_step(benchmark, torch, _torch_model, kind, "torch")


def test_numpy_models_learn():
    """The NumPy twins are real models: a few steps on a fixed batch lower the loss."""
    for model, (batch, shape) in ((NumpyLeNet(), CASES["lenet"]), (NumpyMLP(), CASES["mlp"])):
        x, y = _data(batch, shape)
        first = model.step(x, y)
        for _ in range(15):
            last = model.step(x, y)
        assert last < first - 0.1


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
def test_numpy_models_match_torch():
    """Same weights, same batch: the NumPy twins' losses over 3 Adam steps equal torch's."""
    import torch
    for kind, model in (("lenet", NumpyLeNet()), ("mlp", NumpyMLP())):
        batch, shape = CASES[kind]
        x, y = _data(batch, shape)
        tm = _torch_model(kind)
        tparams = [p for p in tm.parameters()]
        with torch.no_grad():
            for tp, p in zip(tparams, model.params):
                tp.copy_(torch.from_numpy(p))
        opt = torch.optim.Adam(tparams, lr=1e-3)
        crit = torch.nn.CrossEntropyLoss()
        for _ in range(3):
            opt.zero_grad()
            tl = crit(tm(torch.from_numpy(x)), torch.from_numpy(y))
            tl.backward()
            opt.step()
            nl = model.step(x, y)
            assert abs(nl - tl.item()) < 1e-4 * max(1.0, abs(nl)), (kind, nl, tl.item())
