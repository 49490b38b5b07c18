"""Grad mode is per thread: training in several threads while others switch grad mode off
gives exactly (bitwise) the gradients of the same training run alone."""
import sys
import threading

import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F

STEPS = 400          # training steps per model (4 models: 1,600 steps in all)


def _model(seed):
    fastdl.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 3))


def _batches(seed, n):
    rng = np.random.default_rng(seed)
    return [(fastdl.tensor(rng.standard_normal((5, 6)).astype(np.float32)),
             fastdl.tensor(rng.standard_normal((5, 3)).astype(np.float32)))
            for _ in range(n)]


def _train(model, batches, out, errors):
    """Plain SGD; records every parameter gradient of every step."""
    try:
        params = list(model.parameters())
        for x, y in batches:
            for p in params:
                p.grad = None
            loss = F.mse_loss(model(x), y)
            loss.backward()
            out.append([p.grad.numpy().copy() for p in params])
            with fastdl.no_grad():
                for p in params:
                    p.sub_(p.grad * 0.05)
            assert fastdl.is_grad_enabled()
    except BaseException as e:  # noqa: BLE001 - reported by the main thread
        errors.append(e)


@pytest.fixture
def fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    yield
    sys.setswitchinterval(old)


def test_four_trainers_and_a_toggler_match_the_serial_run(fast_switching):
    data = [_batches(100 + k, STEPS) for k in range(4)]
    serial = []
    for k in range(4):
        out, errors = [], []
        _train(_model(k), data[k], out, errors)
        assert not errors
        serial.append(out)

    models = [_model(k) for k in range(4)]
    outs = [[] for _ in range(4)]
    errors = []
    stop = threading.Event()
    toggles = [0]

    def toggler():
        x = fastdl.ones(3, requires_grad=True)
        while not stop.is_set():
            with fastdl.no_grad():
                y = x * 2
                assert not fastdl.is_grad_enabled() and not y.requires_grad
            with fastdl.set_grad_enabled(False):
                fastdl.empty(4).uniform_()
            toggles[0] += 1

    tog = threading.Thread(target=toggler)
    workers = [threading.Thread(target=_train, args=(models[k], data[k], outs[k], errors))
               for k in range(4)]
    tog.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    stop.set()
    tog.join(timeout=30)
    assert not errors, errors[0]
    assert toggles[0] >= 1000, toggles[0]  # the toggler really ran alongside
    for k in range(4):
        assert len(outs[k]) == STEPS
        for step, (a, b) in enumerate(zip(outs[k], serial[k])):
            for ga, gb in zip(a, b):
                assert ga.tobytes() == gb.tobytes(), f"model {k}, step {step}"


def test_each_thread_starts_with_grad_enabled():
    seen = []
    with fastdl.no_grad():
        t = threading.Thread(target=lambda: seen.append(fastdl.is_grad_enabled()))
        t.start()
        t.join()
        assert not fastdl.is_grad_enabled()
    assert seen == [True]


class _NoisyDataset:
    """A dataset whose __getitem__ runs fastdl ops under no_grad (uniform_ does, inside) and
    on a tensor that requires grad."""

    def __init__(self, n):
        self.n = n
        self.scale = fastdl.full((4,), 0.5, requires_grad=True)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        noise = fastdl.empty(4).uniform_(-0.1, 0.1)
        with fastdl.no_grad():
            x = fastdl.full((4,), float(i % 7)) * self.scale + noise
        assert not x.requires_grad
        return x, fastdl.tensor(float(i % 3))


def _loader_run(prefetch):
    fastdl.manual_seed(3)
    model = nn.Linear(4, 1)
    ds = _NoisyDataset(96)
    loader = fastdl.data.DataLoader(ds, batch_size=8, shuffle=True, seed=5, prefetch=prefetch)
    grads = []
    for _ in range(3):
        for xb, yb in loader:
            model.zero_grad()
            loss = F.mse_loss(model(xb).reshape(-1), yb)
            loss.backward()
            grads.append([p.grad.numpy().copy() for p in model.parameters()])
            with fastdl.no_grad():
                for p in model.parameters():
                    p.sub_(p.grad * 0.1)
    return grads


def test_dataloader_prefetch_thread_with_no_grad_dataset(fast_switching):
    serial = _loader_run(prefetch=0)
    threaded = _loader_run(prefetch=2)
    assert len(serial) == len(threaded) == 36
    for a, b in zip(serial, threaded):
        for ga, gb in zip(a, b):
            assert ga.tobytes() == gb.tobytes()
