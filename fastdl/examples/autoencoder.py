"""Convolutional autoencoder on MNIST, written as a PyTorch program.

    python -m fastdl.examples.autoencoder                  # 5 epochs
    python -m fastdl.examples.autoencoder --epochs 1 --limit 2000

Encoder: two stride-2 3×3 convolutions (1→16→32 channels, 28² → 7²) and a linear
bottleneck of ``--latent`` units; decoder: the mirror image with transposed convolutions and
a sigmoid. Loss: mean squared error between input and reconstruction, Adam. Prints the
training loss per epoch and, last, ``test reconstruction MSE: 0.0XXX``; writes
``<out>/reconstructions.png`` (inputs in the top rows, their reconstructions below).

Measured with the defaults (seed 1, ``--threads 1``, 2026-12-03, 2-core Zen 4): test
reconstruction MSE 0.0055 after 5 epochs (training MSE 0.0386 after the first); 68 s of CPU
time (7.5 s per epoch on 2 threads with the machine idle).
"""
from __future__ import annotations

import argparse
import time

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl.examples._common import batches, mnist_arrays, setup
from fastdl.utils import save_image

__all__ = ["ConvAutoencoder", "main"]


class ConvAutoencoder(nn.Module):
    """28×28 image → ``latent`` numbers → 28×28 image.
    Example: ``ConvAutoencoder(32)(fastdl.rand(4, 1, 28, 28)).shape  # (4, 1, 28, 28)``"""

    def __init__(self, latent=32):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * 7 * 7, latent))
        self.decoder_in = nn.Linear(latent, 32 * 7 * 7)
        self.decoder = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(self.decoder_in(z).reshape(-1, 32, 7, 7))

    def forward(self, x):
        return self.decode(self.encode(x))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Convolutional autoencoder on MNIST")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--latent", type=int, default=32)
    p.add_argument("--limit", type=int, default=None, help="use the first N training images")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default="runs/autoencoder")
    return p.parse_args(argv)


def evaluate(model, x, batch_size=500):
    model.eval()
    total = 0.0
    with fastdl.no_grad():
        for s in range(0, len(x), batch_size):
            xb = fastdl.tensor(x[s:s + batch_size])
            total += F.mse_loss(model(xb), xb, reduction="sum").item()
    return total / x.size


def main(argv=None):
    args = parse_args(argv)
    setup(args)
    x, _, xt, _ = mnist_arrays(args.limit, None if args.limit is None else
                                max(args.limit // 4, 64))
    model = ConvAutoencoder(args.latent)
    opt = fastdl.optim.Adam(model.parameters(), lr=args.lr)
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0, total, n = time.perf_counter(), 0.0, 0
        for idx in batches(len(x), args.batch_size):
            xb = fastdl.tensor(x[idx])
            loss = F.mse_loss(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            n += len(idx)
            history.append(loss.item())
        print(f"epoch {epoch}: train MSE {total / n:.4f} ({time.perf_counter() - t0:.1f} s)")
    mse = evaluate(model, xt)
    model.eval()
    with fastdl.no_grad():
        inputs = fastdl.tensor(xt[:16])
        recon = model(inputs)
    save_image(fastdl.cat([inputs, recon], 0), f"{args.out}/reconstructions.png", nrow=16)
    print(f"test reconstruction MSE: {mse:.4f}")
    return {"test_mse": mse, "batch_losses": history}


if __name__ == "__main__":
    main()
