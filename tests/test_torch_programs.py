"""Complete PyTorch-style training programs that run unchanged with fastdl in torch's place.

Each program is a function of one argument, ``torch``: it is run once with
``import fastdl as torch`` and, when PyTorch is installed, once with PyTorch itself. The
programs use only torch's API (no fastdl names); their data and initial weights come from a
seeded NumPy generator, so both runs start from the same point and every step's loss must
agree: relative tolerance 1e-4 (float32 arithmetic in a different order over a few dozen
steps), 1e-10 for the float64 program.

Without PyTorch the programs still run under fastdl and must reduce their loss.
"""
import numpy as np
import pytest

import fastdl

RTOL32 = 1e-4


def _init_from_numpy(torch, model, seed):
    """Deterministic weights for any model: every floating parameter from one NumPy
    generator, loaded through ``load_state_dict`` (the same values in both libraries)."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, p in model.state_dict().items():
        if p.is_floating_point():
            fan_in = p.shape[1] if p.dim() > 1 else p.shape[0]
            for s in p.shape[2:]:
                fan_in *= s
            a = rng.uniform(-1, 1, tuple(p.shape)) / np.sqrt(max(fan_in, 1))
            state[name] = torch.tensor(a, dtype=p.dtype)
        else:
            state[name] = p
    result = model.load_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys


def _blobs(n, d, k, seed):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (k, d))
    y = rng.integers(0, k, n)
    x = centers[y] + rng.normal(0, 1, (n, d))
    return x.astype(np.float32), y.astype(np.int64)


# ---- the programs ------------------------------------------------------------------------

def mlp_classifier(torch):
    """An MLP on Gaussian blobs: nn.Sequential, CrossEntropyLoss, SGD with momentum,
    manual mini-batches, accuracy with argmax, .item()."""
    import torch.nn as nn  # noqa: F811  (resolved through sys.modules below)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    X, Y = _blobs(256, 8, 4, seed=0)
    X, Y = torch.from_numpy(X).to(device), torch.from_numpy(Y).to(device)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(),
                          nn.Linear(32, 4)).to(device)
    _init_from_numpy(torch, model, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for epoch in range(3):
        for i in range(0, 256, 64):
            xb, yb = X[i:i + 64], Y[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    with torch.no_grad():
        acc = (model(X).argmax(dim=1) == Y).float().mean().item()
    return losses, acc


def cnn_with_dataloader(torch):
    """A small CNN: Conv2d, BatchNorm2d, MaxPool2d, Dropout(p=0), Flatten, a DataLoader over
    a TensorDataset (no shuffling, so both libraries see the same batches), Adam."""
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset
    rng = np.random.default_rng(2)
    imgs = rng.normal(0, 1, (96, 1, 8, 8)).astype(np.float32)
    labels = (imgs[:, 0, :4].mean(axis=(1, 2)) > imgs[:, 0, 4:].mean(axis=(1, 2))).astype(
        np.int64)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.conv2 = nn.Conv2d(4, 8, 3)
            self.drop = nn.Dropout(0.0)
            self.fc = nn.Linear(8 * 2 * 2, 2)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.bn(self.conv1(x))), 2)
            x = F.relu(self.conv2(x))
            x = self.drop(torch.flatten(x, 1))
            return self.fc(x)

    model = Net()
    _init_from_numpy(torch, model, 3)
    loader = DataLoader(TensorDataset(torch.tensor(imgs), torch.tensor(labels)),
                        batch_size=32, shuffle=False)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    model.train()
    for epoch in range(3):
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(xb).max(1).indices == yb).sum()) for xb, yb in loader)
    return losses, correct / 96


def checkpoint_round_trip(torch, path):
    """Train, save the state dict, rebuild the model, load it, keep training: the resumed
    run equals the uninterrupted one; p.data updates (manual SGD) and torch.save/load."""
    import torch.nn as nn
    X, Y = _blobs(64, 5, 3, seed=4)
    X, Y = torch.tensor(X), torch.tensor(Y)

    def make():
        m = nn.Sequential(nn.Linear(5, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 3))
        _init_from_numpy(torch, m, 5)
        return m

    def train(m, steps):
        out = []
        for _ in range(steps):
            m.zero_grad()
            loss = nn.functional.cross_entropy(m(X), Y)
            loss.backward()
            for p in m.parameters():
                p.data.sub_(0.1 * p.grad.data)  # old-style manual SGD through .data
            out.append(loss.item())
        return out

    full = train(make(), 6)
    m = make()
    first = train(m, 3)
    torch.save(m.state_dict(), path)
    m2 = make()
    m2.load_state_dict(torch.load(path))
    second = train(m2, 3)
    return full, first + second


def float64_regression(torch):
    """Least squares in float64 with default dtype changes: set_default_dtype, torch.randn
    replaced by NumPy data, MSELoss, LBFGS-free plain gradient descent, torch.no_grad."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        rng = np.random.default_rng(6)
        X = torch.tensor(rng.normal(0, 1, (50, 4)).tolist())
        w_true = torch.tensor([[1.5], [-2.0], [0.5], [3.0]])
        y = X @ w_true + 0.1 * torch.tensor(rng.normal(0, 1, (50, 1)).tolist())
        w = torch.zeros(4, 1, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        losses = []
        for _ in range(40):
            loss = torch.nn.functional.mse_loss(X @ w + b, y)
            loss.backward()
            with torch.no_grad():
                w -= 0.1 * w.grad
                b -= 0.1 * b.grad
                w.grad.zero_()
                b.grad.zero_()
            losses.append(loss.item())
        assert X.dtype == torch.float64 and w.dtype == torch.float64
        return losses, w.detach().numpy().ravel().tolist()
    finally:
        torch.set_default_dtype(old)


def rnn_sequence_model(torch):
    """An LSTM sequence classifier (batch_first), gradient clipping, RMSprop, .to(dtype)."""
    import torch.nn as nn
    rng = np.random.default_rng(7)
    seqs = rng.normal(0, 1, (48, 6, 3)).astype(np.float32)
    target = (seqs[:, :, 0].sum(1) > 0).astype(np.int64)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(3, 8, batch_first=True)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            out, (h, c) = self.rnn(x)
            return self.head(out[:, -1])

    model = Model().to(torch.float32)
    _init_from_numpy(torch, model, 8)
    opt = torch.optim.RMSprop(model.parameters(), lr=0.01)
    X, Y = torch.from_numpy(seqs), torch.from_numpy(target)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(X), Y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return losses, None


# ---- running them ----------------------------------------------------------------------

def _run(program, lib, *args):
    """Run ``program`` with ``lib`` as ``torch`` (and ``torch.nn``... resolvable by import
    statements inside it)."""
    import sys
    saved = {k: sys.modules.get(k) for k in
             ("torch", "torch.nn", "torch.nn.functional", "torch.utils", "torch.utils.data")}
    try:
        sys.modules["torch"] = lib
        sys.modules["torch.nn"] = lib.nn
        sys.modules["torch.nn.functional"] = lib.nn.functional
        sys.modules["torch.utils"] = lib.utils
        # fastdl.utils.data is torch's path; older trees have only fastdl.data
        sys.modules["torch.utils.data"] = getattr(lib.utils, "data", None) or lib.data
        return program(lib, *args)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


PROGRAMS = {
    "mlp_classifier": (mlp_classifier, RTOL32),
    "cnn_with_dataloader": (cnn_with_dataloader, RTOL32),
    "float64_regression": (float64_regression, 1e-10),
    "rnn_sequence_model": (rnn_sequence_model, RTOL32),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_runs_and_learns_under_fastdl(name):
    program, _ = PROGRAMS[name]
    losses, _ = _run(program, fastdl)
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_matches_torch(name):
    torch = pytest.importorskip("torch")
    program, rtol = PROGRAMS[name]
    torch.manual_seed(0)
    f_losses, f_extra = _run(program, fastdl)
    t_losses, t_extra = _run(program, torch)
    np.testing.assert_allclose(f_losses, t_losses, rtol=rtol, atol=rtol)
    if isinstance(f_extra, list):
        np.testing.assert_allclose(f_extra, t_extra, rtol=rtol)
    elif f_extra is not None:
        assert f_extra == pytest.approx(t_extra, abs=0.02)


def test_checkpoint_round_trip(tmp_path):
    full, resumed = _run(checkpoint_round_trip, fastdl, str(tmp_path / "f.pt"))
    assert full == resumed and full[-1] < full[0]


def test_checkpoint_round_trip_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    f_full, _ = _run(checkpoint_round_trip, fastdl, str(tmp_path / "f.pt"))
    t_full, t_resumed = _run(checkpoint_round_trip, torch, str(tmp_path / "t.pt"))
    assert t_full == pytest.approx(t_resumed, rel=1e-6)
    np.testing.assert_allclose(f_full, t_full, rtol=RTOL32)
