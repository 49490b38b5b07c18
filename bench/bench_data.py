"""Data-loading throughput: fastdl's DataLoader against torch's, same dataset, same settings.

The dataset decodes and augments an image in Python on every ``__getitem__`` (about 1 ms):
zlib-decompress a 3x64x64 uint8 image, random crop with 4-pixel reflect padding, random
horizontal flip, brightness jitter, normalise to float32. 10,000 items, batch 64,
``num_workers`` 0 and 2. A second case times the num_workers=0 background-thread prefetch
(``prefetch=2``) against none while the consumer runs a GIL-releasing kernel per batch.

Run as a script for the table (interleaved rounds, minimum per configuration)::

    PYTHONPATH=$PWD python bench/bench_data.py [--items 10000] [--rounds 3]

or under pytest-benchmark: ``PYTHONPATH=$PWD python -m pytest bench/bench_data.py``.

Measured 2026-12-03 10:36 UTC on the 2-core AVX-512 VM, idle (load average 0.9), torch 2.13;
``python bench/bench_data.py --items 10000 --rounds 3``, items/s of the best round:

=============  =========  ===========================
num_workers    items/s    fastdl / torch, same workers
=============  =========  ===========================
fastdl 0       3,831      1.01x
fastdl 2       6,381      1.29x
torch 0        3,809
torch 2        4,962
=============  =========  ===========================

With ``num_workers=0`` and a consumer that runs a GIL-releasing kernel per batch, the
background thread (``prefetch=2``) gave 3,197 items/s against 2,850 without it (+12 %, one
run; on a loaded machine earlier the two were within noise). It stays off by default, as in
torch, where ``num_workers=0`` runs ``__getitem__`` in the iterating thread (its RNG and grad
mode are that thread's); pass ``prefetch=2`` to use it.
"""
from __future__ import annotations

import argparse
import time
import zlib

import numpy as np
import pytest

import fastdl
from fastdl.utils.data import DataLoader

ITEMS = 10_000
BATCH = 64
MEAN = np.array([0.5, 0.45, 0.4], np.float32).reshape(3, 1, 1)
STD = np.array([0.25, 0.25, 0.25], np.float32).reshape(3, 1, 1)


class DecodeAugment:
    """Map-style dataset: compressed images decoded and augmented per item in Python."""

    def __init__(self, n=ITEMS, size=64, seed=0):
        rng = np.random.default_rng(seed)
        self.size = size
        # a few distinct (compressible, image-like) images, reused: memory stays small
        base = [np.clip(rng.normal(128, 40, (3, size, size)).cumsum(axis=2) / 8 % 256, 0,
                        255).astype(np.uint8) for _ in range(16)]
        self.blobs = [zlib.compress(b.tobytes(), 6) for b in base]
        self.n = n
        self.labels = rng.integers(0, 10, n)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        s = self.size
        img = np.frombuffer(zlib.decompress(self.blobs[i % len(self.blobs)]),
                            np.uint8).reshape(3, s, s)
        rng = np.random.default_rng(i)
        padded = np.pad(img, ((0, 0), (4, 4), (4, 4)), mode="reflect")
        y0, x0 = rng.integers(0, 9, 2)
        crop = padded[:, y0:y0 + s, x0:x0 + s]
        if rng.random() < 0.5:
            crop = crop[:, :, ::-1]
        x = crop.astype(np.float32) * np.float32(1 / 255 * rng.uniform(0.8, 1.2))
        x = (x - MEAN) / STD
        for _ in range(3):  # a little more per-pixel Python-driven work (~1 ms total)
            x = np.clip(x + np.float32(0.01) * np.roll(x, 1, axis=2), -3, 3)
        return np.ascontiguousarray(x, dtype=np.float32), int(self.labels[i])


def _torch():
    try:
        import torch
        import torch.utils.data as td
        return torch, td
    except ImportError:
        return None, None


def run_once(lib, workers, items=ITEMS, prefetch=0):
    ds = DecodeAugment(items)
    if lib == "fastdl":
        kw = dict(prefetch=prefetch) if workers == 0 else dict(persistent_workers=False)
        dl = DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=workers, **kw)
    else:
        _, td = _torch()
        dl = td.DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=workers)
    t0 = time.perf_counter()
    n = 0
    for xb, yb in dl:
        n += xb.shape[0]
    dt = time.perf_counter() - t0
    assert n == items
    return items / dt


def run_prefetch(prefetch, items=2_000):
    """Consumer with a GIL-releasing kernel per batch (a 384x384 float32 matmul x4)."""
    ds = DecodeAugment(items)
    w = fastdl.randn(384, 384)
    dl = DataLoader(ds, batch_size=BATCH, shuffle=True, prefetch=prefetch)
    t0 = time.perf_counter()
    for xb, yb in dl:
        for _ in range(4):
            (w @ w).sum()
    return items / (time.perf_counter() - t0)


def table(items, rounds):
    torch, _ = _torch()
    if torch is not None:
        torch.set_num_threads(fastdl.get_num_threads())
    configs = [("fastdl", 0), ("fastdl", 2)]
    if torch is not None:
        configs += [("torch", 0), ("torch", 2)]
    best = {c: 0.0 for c in configs}
    pbest = {0: 0.0, 2: 0.0}
    for r in range(rounds):
        for c in configs:  # interleaved: every configuration once per round
            best[c] = max(best[c], run_once(c[0], c[1], items))
        for p in (0, 2):
            pbest[p] = max(pbest[p], run_prefetch(p))
    print(f"items={items} batch={BATCH} rounds={rounds} (best round = minimum time)")
    print("| loader | num_workers | items/s | vs torch same workers |")
    print("|---|---|---|---|")
    for c in configs:
        ref = best.get(("torch", c[1]))
        ratio = f"{best[c] / ref:.2f}x" if ref else "-"
        print(f"| {c[0]} | {c[1]} | {best[c]:.0f} | {ratio} |")
    print()
    print("| num_workers=0 with a GIL-releasing consumer | items/s |")
    print("|---|---|")
    for p in (0, 2):
        print(f"| prefetch={p} | {pbest[p]:.0f} |")


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("lib", ["fastdl", "torch"])
def test_loader_throughput(benchmark, lib, workers):
    if lib == "torch" and _torch()[0] is None:
        pytest.skip("torch not installed")
    items = 2_000
    benchmark.extra_info["items"] = items
    ips = benchmark.pedantic(run_once, args=(lib, workers, items), rounds=2, iterations=1)
    benchmark.extra_info["items_per_s"] = ips


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=ITEMS)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    table(a.items, a.rounds)
