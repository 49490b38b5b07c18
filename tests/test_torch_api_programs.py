"""Small PyTorch programs written in torch style, run unchanged with ``T = fastdl`` and (when
installed) ``T = torch`` from the same initial weights: a least-squares regression with
``linalg``, a classifier reporting top-5 accuracy with ``topk``, a char-level GRU that samples
with ``multinomial``, a small GPT with a ``triu`` causal mask and ``sin``/``cos``
positions, and a VAE (reparameterisation, BCE + KL). Losses agree with torch to 1e-4 (float32, a few optimizer steps)."""
import math

import numpy as np
import pytest

import fastdl


def _init(T, model, seed=0):
    """Set every parameter from one NumPy stream (the same values under both libraries)."""
    rng = np.random.default_rng(seed)
    names = []
    with T.no_grad():
        for name, p in model.named_parameters():
            names.append(name)
            p.copy_(T.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.2))
    return names


def regression(T):
    rng = np.random.default_rng(1)
    X = T.tensor(rng.standard_normal((64, 3)).astype(np.float32))
    w_true = T.tensor([[1.5], [-2.0], [0.5]])
    y = X @ w_true + 0.01 * T.tensor(rng.standard_normal((64, 1)).astype(np.float32))
    sol = T.linalg.lstsq(X, y).solution
    normal = T.linalg.solve(X.T @ X, X.T @ y)
    Q, R = T.linalg.qr(X)
    via_qr = T.linalg.solve(R, Q.T @ y)
    model = T.nn.Linear(3, 1)
    _init(T, model)
    opt = T.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(30):
        opt.zero_grad()
        loss = T.nn.functional.mse_loss(model(X), y)
        loss.backward()
        opt.step()
    return [sol.detach().numpy(), normal.detach().numpy(), via_qr.detach().numpy(),
            np.array(loss.item())]


def top5(T):
    rng = np.random.default_rng(2)
    x = T.tensor(rng.standard_normal((128, 20)).astype(np.float32))
    y = T.tensor(rng.integers(0, 10, 128))
    model = T.nn.Sequential(T.nn.Linear(20, 32), T.nn.ReLU(), T.nn.Linear(32, 10))
    _init(T, model)
    opt = T.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(10):
        opt.zero_grad()
        loss = T.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    with T.no_grad():
        logits = model(x)
        top = logits.topk(5, dim=1).indices
        acc5 = (top == y.unsqueeze(1)).any(dim=1).float().mean()
        acc1 = (logits.argmax(dim=1) == y).float().mean()
    return [np.array(loss.item()), np.array(acc5.item()), np.array(acc1.item())]


TEXT = "hello world, hello fastdl. " * 4


class CharRNN:
    @staticmethod
    def build(T, vocab):
        class Net(T.nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = T.nn.Embedding(vocab, 8)
                self.rnn = T.nn.GRU(8, 16, batch_first=True)
                self.head = T.nn.Linear(16, vocab)

            def forward(self, x, h=None):
                out, h = self.rnn(self.emb(x), h)
                return self.head(out), h

        return Net()


def char_rnn(T):
    chars = sorted(set(TEXT))
    stoi = {c: i for i, c in enumerate(chars)}
    data = T.tensor([stoi[c] for c in TEXT])
    model = CharRNN.build(T, len(chars))
    _init(T, model)
    opt = T.optim.Adam(model.parameters(), lr=1e-2)
    x, y = data[:-1].unsqueeze(0), data[1:].unsqueeze(0)
    for _ in range(5):
        opt.zero_grad()
        logits, _ = model(x)
        loss = T.nn.functional.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        loss.backward()
        opt.step()
    g = T.Generator().manual_seed(0)
    with T.no_grad():
        idx = T.tensor([[stoi["h"]]])
        h = None
        out = []
        for _ in range(20):
            logits, h = model(idx, h)
            probs = T.softmax(logits[:, -1], dim=-1)
            idx = T.multinomial(probs, 1, generator=g)
            out.append(int(idx.item()))
    assert all(0 <= i < len(chars) for i in out)
    return [np.array(loss.item())]


def gpt(T):
    vocab, d, n_ctx = 11, 16, 8
    rng = np.random.default_rng(3)
    tokens = T.tensor(rng.integers(0, vocab, (4, n_ctx + 1)))

    class Block(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = T.nn.LayerNorm(d)
            self.qkv = T.nn.Linear(d, 3 * d)
            self.proj = T.nn.Linear(d, d)
            self.ln2 = T.nn.LayerNorm(d)
            self.mlp = T.nn.Sequential(T.nn.Linear(d, 4 * d), T.nn.GELU(), T.nn.Linear(4 * d, d))

        def forward(self, x):
            B, L, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(d)
            mask = T.triu(T.ones(L, L), diagonal=1).bool()
            att = att.masked_fill(mask, float("-inf"))
            x = x + self.proj(T.softmax(att, dim=-1) @ v)
            return x + self.mlp(self.ln2(x))

    class GPT(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = T.nn.Embedding(vocab, d)
            self.block = Block()
            self.head = T.nn.Linear(d, vocab)
            pos = T.arange(n_ctx).unsqueeze(1).float()
            div = T.exp(T.arange(0, d, 2).float() * (-math.log(10000.0) / d))
            pe = T.zeros(n_ctx, d)
            pe[:, 0::2] = T.sin(pos * div)
            pe[:, 1::2] = T.cos(pos * div)
            self.register_buffer("pe", pe)

        def forward(self, idx):
            x = self.emb(idx) + self.pe[: idx.shape[1]]
            return self.head(self.block(x))

    model = GPT()
    _init(T, model)
    opt = T.optim.AdamW(model.parameters(), lr=1e-2)
    x, y = tokens[:, :-1], tokens[:, 1:]
    for _ in range(4):
        opt.zero_grad()
        loss = T.nn.functional.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
        loss.backward()
        opt.step()
    return [np.array(loss.item())]


def vae(T):
    """A variational auto-encoder: encoder to (mu, logvar), the reparameterisation
    z = mu + exp(logvar / 2)·eps, a decoder, and the loss BCE + KL. The noise eps comes from one
    NumPy stream so both libraries see the same samples; ``randn_like`` is also called (its
    shape and dtype are checked) as a script would."""
    rng = np.random.default_rng(4)
    x = T.tensor((rng.random((64, 16)) > 0.5).astype(np.float32))

    class VAE(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = T.nn.Linear(16, 12)
            self.mu = T.nn.Linear(12, 4)
            self.logvar = T.nn.Linear(12, 4)
            self.dec = T.nn.Sequential(T.nn.Linear(4, 12), T.nn.Tanh(), T.nn.Linear(12, 16))

        def forward(self, x, eps):
            h = T.relu(self.enc(x))
            mu, logvar = self.mu(h), self.logvar(h)
            z = mu + T.exp(0.5 * logvar) * eps
            return self.dec(z), mu, logvar

    model = VAE()
    _init(T, model)
    opt = T.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(8):
        eps = T.tensor(rng.standard_normal((64, 4)).astype(np.float32))
        noise = T.randn_like(eps)
        assert noise.shape == eps.shape and noise.dtype == T.float32
        opt.zero_grad()
        logits, mu, logvar = model(x, eps)
        bce = T.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * T.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = (bce + kl) / x.shape[0]
        loss.backward()
        opt.step()
    return [np.array(loss.item()), np.array(kl.item())]


PROGRAMS = {"regression": regression, "top5": top5, "char_rnn": char_rnn, "gpt": gpt,
            "vae": vae}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_runs_and_matches_torch(name):
    got = PROGRAMS[name](fastdl)
    assert all(np.isfinite(g).all() for g in got)
    if name == "regression":
        for sol in got[:3]:
            np.testing.assert_allclose(sol.ravel(), [1.5, -2.0, 0.5], atol=0.02)
    torch = pytest.importorskip("torch")
    want = PROGRAMS[name](torch)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
