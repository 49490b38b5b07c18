"""Hyperparameter checks shared by the optimizers (PyTorch's messages)."""
from __future__ import annotations

__all__ = []


def check_lr(g):
    if not g["lr"] >= 0.0:
        raise ValueError(f"Invalid learning rate: {g['lr']}")


def check_eps(g):
    if not g["eps"] >= 0.0:
        raise ValueError(f"Invalid epsilon value: {g['eps']}")


def check_wd(g):
    if not g["weight_decay"] >= 0.0:
        raise ValueError(f"Invalid weight_decay value: {g['weight_decay']}")


def check_betas(g):
    betas = g["betas"]
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair, got {betas!r}")
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")
