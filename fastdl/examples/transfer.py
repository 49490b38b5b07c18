"""Transfer learning, written as a PyTorch program: pretrain a CNN on MNIST, save it, freeze
its convolutional features, replace the head and fine-tune on scikit-learn's 8×8 digits
resized to 28×28; compare with the same network trained from scratch.

    python -m fastdl.examples.transfer                   # pretrain 2 epochs, fine-tune 15
    python -m fastdl.examples.transfer --pretrain-epochs 1 --limit 5000

For 10 %, 50 % and 100 % of the digits training split, it trains (a) the pretrained
network with frozen features (``requires_grad_(False)``) and a fresh head, and (b) the same
architecture from scratch, and reports both test accuracies; the learning curve goes to
``<out>/learning_curve.png``; the last line is ``fine-tuned vs scratch at 10 %: 0.XXXX vs
0.XXXX``.

Measured with the defaults (seed 1, ``--threads 1``, 2026-12-03, 2-core Zen 4): pretrained
to 0.9800 MNIST test accuracy; test accuracy on the digits, fine-tuned vs from scratch:
0.9578 vs 0.9089 with 10 % of the training split (135 images), 0.9889 vs 0.9800 with 50 %,
0.9911 vs 0.9844 with 100 %; 66 s of CPU time in all.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl.examples._common import batches, line_plot, mnist_arrays, setup

__all__ = ["Net", "main"]


class Net(nn.Module):
    """Convolutional features (two conv–ReLU–pool blocks) and a linear head.
    Example: ``Net()(fastdl.rand(2, 1, 28, 28)).shape  # (2, 10)``"""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.Linear(32 * 7 * 7, num_classes)

    def forward(self, x):
        return self.head(self.features(x))


def fit(model, x, y, epochs, batch_size, lr):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = fastdl.optim.Adam(params, lr=lr)
    for _ in range(epochs):
        model.train()
        for idx in batches(len(x), batch_size):
            loss = F.cross_entropy(model(fastdl.tensor(x[idx])), fastdl.tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


def accuracy(model, x, y):
    model.eval()
    with fastdl.no_grad():
        pred = model(fastdl.tensor(x)).argmax(1).numpy()
    return float((pred == y).mean())


def digits_28():
    """scikit-learn's digits, upsampled 8×8 → 28×28 (bilinear), split 75/25 stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    with fastdl.no_grad():
        X = F.interpolate(fastdl.tensor(X), size=(28, 28), mode="bilinear",
                          align_corners=False).numpy()
    return train_test_split(X, y.astype(np.int64), test_size=0.25, stratify=y, random_state=0)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Fine-tune an MNIST CNN on scikit-learn's digits")
    p.add_argument("--pretrain-epochs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=15, help="fine-tuning / scratch epochs")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.5, 1.0])
    p.add_argument("--limit", type=int, default=None, help="MNIST images for pretraining")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default="runs/transfer")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup(args)
    x, y, xt, yt = mnist_arrays(args.limit, 2000)
    t0 = time.perf_counter()
    base = fit(Net(), x, y, args.pretrain_epochs, 128, args.lr)
    print(f"pretrained on MNIST: test accuracy {accuracy(base, xt, yt):.4f} "
          f"({time.perf_counter() - t0:.1f} s)")
    path = os.path.join(args.out, "mnist_cnn.safetensors")
    fastdl.save(base.state_dict(), path)
    Xtr, Xte, ytr, yte = digits_28()
    rng = np.random.default_rng(args.seed)
    curve = {"fine-tuned (frozen features)": ([], []), "from scratch": ([], [])}
    for frac in args.fractions:
        n = max(10, int(round(frac * len(Xtr))))
        sel = rng.permutation(len(Xtr))[:n]
        tuned = Net()
        tuned.load_state_dict(fastdl.load(path))
        tuned.features.requires_grad_(False)
        tuned.head = nn.Linear(32 * 7 * 7, 10)
        fit(tuned, Xtr[sel], ytr[sel], args.epochs, args.batch_size, args.lr)
        scratch = fit(Net(), Xtr[sel], ytr[sel], args.epochs, args.batch_size, args.lr)
        a_t, a_s = accuracy(tuned, Xte, yte), accuracy(scratch, Xte, yte)
        for k, a in (("fine-tuned (frozen features)", a_t), ("from scratch", a_s)):
            curve[k][0].append(100 * frac)
            curve[k][1].append(a)
        print(f"{100 * frac:5.1f} % of digits ({n} images): fine-tuned {a_t:.4f}, "
              f"scratch {a_s:.4f}")
    line_plot(os.path.join(args.out, "learning_curve.png"), curve,
              "% of the digits training set", "test accuracy",
              "MNIST features fine-tuned vs trained from scratch")
    f0 = args.fractions[0]
    print(f"fine-tuned vs scratch at {100 * f0:g} %: {curve['fine-tuned (frozen features)'][1][0]:.4f}"
          f" vs {curve['from scratch'][1][0]:.4f}")
    return {k: v[1] for k, v in curve.items()}


if __name__ == "__main__":
    main()
