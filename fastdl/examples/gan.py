"""DCGAN on MNIST, and with ``--conditional`` a conditional GAN, written as a PyTorch
program.

    python -m fastdl.examples.gan                      # unconditional, 5 epochs
    python -m fastdl.examples.gan --conditional        # cGAN: ask for a digit

Generator: z (64) [+ one-hot label] → 128×7×7 → transposed convolutions to 1×28×28 (tanh);
discriminator: two stride-2 convolutions with LeakyReLU and batch norm → one logit, the label
given as 10 extra constant input channels in the conditional case. Adam (2e-4, β₁ = 0.5),
the non-saturating loss (BCE with logits).

Quality is measured by a small MNIST classifier that the example trains first: on 1,000
conditional samples it reports how often the classifier agrees with the requested digit,
and for every model the mean pairwise distance of 256 samples (it collapses towards 0 when
the generator collapses to one mode). One line per epoch; a sample grid per epoch in
``<out>/samples_epoch<k>.png``; last line ``agreement: 0.XXXX`` (conditional) or
``diversity: X.XXXX``.

Measured with ``--conditional`` on the defaults (seed 1, ``--threads 1``, 2026-12-03, 2-core
Zen 4): the judge classifier reaches 0.9805 test accuracy; agreement with the requested digit
0.274, 0.886, 0.906, 0.924 and 0.940 after epochs 1–5 (last line ``agreement: 0.9400``);
sample diversity 19.5–19.9 every epoch against 19.56 for real test digits (no collapse);
1,307 s of CPU time in all.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl.examples._common import batches, mnist_arrays, setup
from fastdl.utils import save_image

__all__ = ["Generator", "Discriminator", "train_classifier", "main"]

NZ = 64


class Generator(nn.Module):
    """z (N, 64) [and labels (N,)] → images (N, 1, 28, 28) in [−1, 1].
    Example: ``Generator(conditional=True)(fastdl.randn(4, 64), fastdl.tensor([0, 1, 2, 3]))``"""

    def __init__(self, conditional=False, width=64):
        super().__init__()
        self.conditional = conditional
        self.fc = nn.Linear(NZ + (10 if conditional else 0), 2 * width * 7 * 7)
        self.width = width
        self.net = nn.Sequential(
            nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1), nn.Tanh())

    def forward(self, z, labels=None):
        if self.conditional:
            z = fastdl.cat([z, F.one_hot(labels, 10).float()], 1)
        return self.net(self.fc(z).reshape(-1, 2 * self.width, 7, 7))


class Discriminator(nn.Module):
    """images (N, 1, 28, 28) [and labels] → one logit each (real vs generated).
    Example: ``Discriminator()(fastdl.rand(4, 1, 28, 28)).shape  # (4,)``"""

    def __init__(self, conditional=False, width=64):
        super().__init__()
        self.conditional = conditional
        c_in = 1 + (10 if conditional else 0)
        self.net = nn.Sequential(
            nn.Conv2d(c_in, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))

    def forward(self, x, labels=None):
        if self.conditional:
            onehot = F.one_hot(labels, 10).float().reshape(-1, 10, 1, 1)
            x = fastdl.cat([x, onehot.expand(x.shape[0], 10, 28, 28)], 1)
        return self.net(x).reshape(-1)


class Classifier(nn.Module):
    """A small CNN that judges the generated digits."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 10))

    def forward(self, x):
        return self.net(x)


def train_classifier(x, y, epochs=1, batch_size=128, lr=2e-3):
    """Train the judge on real images scaled to [−1, 1] (the generator's range)."""
    clf = Classifier()
    opt = fastdl.optim.Adam(clf.parameters(), lr=lr)
    for _ in range(epochs):
        for idx in batches(len(x), batch_size):
            loss = F.cross_entropy(clf(fastdl.tensor(x[idx])), fastdl.tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    clf.eval()
    return clf


def diversity(samples):
    """Mean pairwise Euclidean distance between the flattened samples."""
    a = samples.reshape(len(samples), -1).astype(np.float64)
    sq = (a * a).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None] - 2 * a @ a.T, 0)
    n = len(a)
    return float(np.sqrt(d2)[~np.eye(n, dtype=bool)].mean())


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="DCGAN / conditional GAN on MNIST")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--conditional", action="store_true")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default="runs/gan")
    return p.parse_args(argv)


def _sample(G, n, conditional, rng):
    labels = fastdl.tensor(np.arange(n) % 10) if conditional else None
    z = fastdl.tensor(rng.standard_normal((n, NZ)).astype(np.float32))
    with fastdl.no_grad():
        return G(z, labels), labels


def main(argv=None):
    args = parse_args(argv)
    setup(args)
    x, y, xt, yt = mnist_arrays(args.limit, None if args.limit is None else 1000)
    x, xt = x * 2 - 1, xt * 2 - 1
    t0 = time.perf_counter()
    clf = train_classifier(x, y)
    with fastdl.no_grad():
        acc = float((clf(fastdl.tensor(xt[:2000])).argmax(1).numpy() == yt[:2000]).mean())
    print(f"judge classifier: test accuracy {acc:.4f} ({time.perf_counter() - t0:.1f} s)")
    G = Generator(args.conditional, args.width)
    D = Discriminator(args.conditional, args.width)
    opt_g = fastdl.optim.Adam(G.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = fastdl.optim.Adam(D.parameters(), lr=args.lr, betas=(0.5, 0.999))
    rng = np.random.default_rng(args.seed)
    fixed = rng.standard_normal((100, NZ)).astype(np.float32)
    result = {}
    for epoch in range(1, args.epochs + 1):
        G.train()
        D.train()
        t0, ld, lg, n = time.perf_counter(), 0.0, 0.0, 0
        for idx in batches(len(x), args.batch_size):
            b = len(idx)
            real = fastdl.tensor(x[idx])
            labels = fastdl.tensor(y[idx]) if args.conditional else None
            fake_labels = fastdl.tensor(rng.integers(0, 10, b)) if args.conditional else None
            z = fastdl.tensor(rng.standard_normal((b, NZ)).astype(np.float32))
            fake = G(z, fake_labels)
            d_real = D(real, labels)
            d_fake = D(fake.detach(), fake_labels)
            loss_d = (F.binary_cross_entropy_with_logits(d_real, fastdl.ones(b)) +
                      F.binary_cross_entropy_with_logits(d_fake, fastdl.zeros(b)))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            loss_g = F.binary_cross_entropy_with_logits(D(fake, fake_labels), fastdl.ones(b))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            ld += loss_d.item() * b
            lg += loss_g.item() * b
            n += b
        G.eval()
        with fastdl.no_grad():
            labels = fastdl.tensor(np.arange(100) % 10) if args.conditional else None
            grid = G(fastdl.tensor(fixed), labels)
        save_image(grid, f"{args.out}/samples_epoch{epoch}.png", nrow=10, normalize=True,
                   value_range=(-1, 1))
        samples, _ = _sample(G, 256, False if not args.conditional else True, rng)
        div = diversity(samples.numpy())
        line = (f"epoch {epoch}: loss D {ld / n:.3f} G {lg / n:.3f}, diversity {div:.3f} "
                f"({time.perf_counter() - t0:.1f} s)")
        if args.conditional:
            s, lab = _sample(G, 1000, True, rng)
            with fastdl.no_grad():
                agree = float((clf(s).argmax(1).numpy() == lab.numpy()).mean())
            line += f", judge agrees with the requested digit {agree:.3f}"
            result["agreement"] = agree
        print(line)
        result["diversity"] = div
    real_div = diversity(xt[:256])
    print(f"diversity of 256 real test digits: {real_div:.4f}")
    if args.conditional:
        print(f"agreement: {result['agreement']:.4f}")
    else:
        print(f"diversity: {result['diversity']:.4f}")
    result["real_diversity"] = real_div
    return result


if __name__ == "__main__":
    main()
