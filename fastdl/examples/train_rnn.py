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
import time

import fastdl
import fastdl.nn as nn
from fastdl.data import DataLoader
from fastdl.examples.train_lenet import Progress, evaluate, load_data

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
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--dataset", choices=["mnist", "digits"], default="mnist")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.hidden < 1:
        p.error("--epochs, --batch-size, --hidden and --lr must be positive")
    return args


def main(argv=None):
    """Train and evaluate; returns a dict with the history and the test accuracy."""
    args = parse_args(argv)
    if args.threads is not None:
        fastdl.set_num_threads(args.threads)
    fastdl.manual_seed(args.seed)
    train, val, test = load_data(args.dataset, args.limit, args.seed)
    _, h, w = train[0][0].shape
    model = RowRNN(w, args.hidden, cell=args.cell)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    criterion = nn.CrossEntropyLoss()
    optimizer = fastdl.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = fastdl.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr,
                                                     total_steps=args.epochs * len(loader))
    print(f"{args.dataset}: {len(train)} train / {len(val)} validation / {len(test)} test; "
          f"{args.cell.upper()}({w}, {args.hidden}) over {h} rows", flush=True)
    hist = {"train_loss": [], "val_acc": [], "batch_loss": []}
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        tot, correct, n = 0.0, 0, 0
        with Progress(len(train), f"epoch {epoch}/{args.epochs}", not args.no_progress) as prog:
            for xb, yb in loader:
                out = model(xb)
                loss = criterion(out, yb)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                lv = float(loss.item())
                hist["batch_loss"].append(lv)
                tot += lv * len(yb)
                correct += int((out.argmax(dim=1) == yb).sum().item())
                n += len(yb)
                prog.update(len(yb), tot / n, correct / n)
            rate = prog.rate()
        vl, va = evaluate(model, val)
        hist["train_loss"].append(tot / n)
        hist["val_acc"].append(va)
        print(f"epoch {epoch}/{args.epochs}: train loss {tot / n:.4f} acc {correct / n:.4f} | "
              f"val loss {vl:.4f} acc {va:.4f} | {time.perf_counter() - t0:.1f} s "
              f"({rate:,.0f} samples/s)", flush=True)
    test_loss, test_acc = evaluate(model, test)
    print(f"test accuracy: {test_acc:.4f}", flush=True)
    return {"history": hist, "test_loss": test_loss, "test_accuracy": test_acc, "model": model}


if __name__ == "__main__":
    main()
