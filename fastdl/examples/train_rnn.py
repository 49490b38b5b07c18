"""Classify digit images row by row with a GRU (fastdl): a sequence task.

    python -m fastdl.examples.train_rnn                      # MNIST: 28 steps of 28 pixels
    python -m fastdl.examples.train_rnn --dataset digits --epochs 15
    python -m fastdl.examples.train_rnn --cell lstm

Each image (1, H, W) is read as a sequence of H rows of W pixels by an ``nn.GRU`` (or
``nn.LSTM``, ``--cell lstm``) with ``batch_first=True``; a Linear layer classifies the last
hidden state. Adam with a one-cycle schedule and gradient clipping
(``fastdl.nn.utils.clip_grad_norm_``). Prints one line per epoch and, last,
``test accuracy: 0.XXXX``.
"""
from __future__ import annotations

import argparse

import fastdl
import fastdl.nn as nn
from fastdl.examples._common import setup
from fastdl.examples.train_lenet import add_run_args, fit, load_data

__all__ = ["RowRNN", "main"]


class RowRNN(nn.Module):
    """Recurrent classifier of images read row by row: (B, 1, H, W) -> (B, H, W) -> RNN ->
    last output -> Linear. Example: ``RowRNN(28, 128)(fastdl.randn(4, 1, 28, 28)).shape``"""

    def __init__(self, row_size=28, hidden_size=128, num_classes=10, cell="gru",
                 num_layers=1):
        super().__init__()
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.rnn = rnn(row_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        b, _, h, w = x.shape
        out, _ = self.rnn(x.reshape(b, h, w))
        return self.fc(out[:, -1])


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Classify digit images row by row with a GRU/LSTM.")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--cell", choices=["gru", "lstm"], default="gru")
    add_run_args(p)
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.hidden < 1:
        p.error("--epochs, --batch-size, --hidden and --lr must be positive")
    return args


def main(argv=None):
    """Train and evaluate; returns a dict with the history and the test accuracy."""
    args = parse_args(argv)
    setup(args)
    train, val, test = load_data(args.dataset, args.limit, args.seed)
    _, h, w = train[0][0].shape
    model = RowRNN(w, args.hidden, cell=args.cell)
    optimizer = fastdl.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * -(-len(train) // args.batch_size)
    scheduler = fastdl.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps)
    print(f"{args.dataset}: {len(train)} train / {len(val)} validation / {len(test)} test; "
          f"{args.cell.upper()}({w}, {args.hidden}) over {h} rows", flush=True)
    return fit(model, args, train, val, test, optimizer, scheduler, max_grad_norm=1.0)


if __name__ == "__main__":
    main()
