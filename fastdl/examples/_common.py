"""Shared pieces of the generative, transfer and RL examples: data, seeding, plotting."""
from __future__ import annotations

import os

import numpy as np

import fastdl


def mnist_arrays(limit=None, test_limit=None):
    """``(x_train, y_train, x_test, y_test)``: float32 images (N, 1, 28, 28) in [0, 1] and
    int64 labels, from the offline MNIST package; ``limit`` keeps the first images."""
    from fastdl.data.datasets import MNIST
    x, y = MNIST(train=True).arrays()
    xt, yt = MNIST(train=False).arrays()
    if limit is not None:
        x, y = x[:limit], y[:limit]
    if test_limit is not None:
        xt, yt = xt[:test_limit], yt[:test_limit]
    return x, y, xt, yt


def setup(args):
    """Seed fastdl and NumPy, set the thread count, make the output folder."""
    fastdl.manual_seed(args.seed)
    np.random.seed(args.seed)
    if getattr(args, "threads", None):
        fastdl.set_num_threads(args.threads)
    if getattr(args, "out", None):
        os.makedirs(args.out, exist_ok=True)


def line_plot(path, series, xlabel, ylabel, title):
    """Save a line chart of ``{label: (x, y)}`` as PNG (needs matplotlib; skipped with a
    message when it is missing). Returns the path or None."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot written")
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (x, y) in series.items():
        ax.plot(x, y, marker="o" if len(x) < 20 else None, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def batches(n, batch_size, shuffle=True, rng=None):
    """Index arrays of the batches of an epoch over ``n`` samples."""
    idx = (rng or np.random).permutation(n) if shuffle else np.arange(n)
    for s in range(0, n, batch_size):
        yield idx[s:s + batch_size]
