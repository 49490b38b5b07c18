"""Hyperparameter checks shared by the optimizers: PyTorch's messages, plus the name of the
argument, and NaN refused (``not v >= 0`` rather than ``v < 0``, which NaN passes)."""
from __future__ import annotations

import numbers

__all__ = []


def _number(g, key):
    v = g[key]
    if isinstance(v, (bool, str, bytes)):
        raise TypeError(f"{key} must be a real number, got {type(v).__name__}")
    if not isinstance(v, numbers.Real):
        try:
            v = float(v)  # a 0-d tensor or NumPy scalar
        except (TypeError, ValueError):
            raise TypeError(f"{key} must be a real number, got {type(g[key]).__name__}") \
                from None
    return v


def check_nonneg(g, key, what):
    v = _number(g, key)
    if not v >= 0.0:
        raise ValueError(f"Invalid {what}: {v} ({key} must be a number >= 0)")


def check_lr(g):
    check_nonneg(g, "lr", "learning rate")


def check_eps(g):
    check_nonneg(g, "eps", "epsilon value")


def check_wd(g):
    check_nonneg(g, "weight_decay", "weight_decay value")


def check_betas(g):
    betas = g["betas"]
    try:
        n = len(betas)
    except TypeError:
        raise TypeError(f"betas must be a pair of floats, got {type(betas).__name__}") from None
    if n != 2:
        raise ValueError(f"betas must be a pair, got {betas!r}")
    for i, b in enumerate(betas):
        if isinstance(b, bool) or not isinstance(b, numbers.Real):
            raise TypeError(f"betas[{i}] must be a real number, got {type(b).__name__}")
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b} (betas[{i}] must be in "
                             f"[0, 1))")


def check_adam_group(g):
    """The checks of an Adam-family group (Adam, AdamW, Adamax, NAdam, RAdam): lr, eps,
    betas, weight_decay."""
    check_lr(g)
    check_eps(g)
    check_betas(g)
    check_wd(g)


def adam_kernel_args(g, **extra):
    """The kernel arguments every Adam-family update takes (lr, beta1, beta2, eps,
    weight_decay, maximize) from group ``g``, plus ``extra``."""
    b1, b2 = g["betas"]
    return dict(lr=float(g["lr"]), beta1=float(b1), beta2=float(b2), eps=float(g["eps"]),
                weight_decay=float(g["weight_decay"]), maximize=bool(g["maximize"]), **extra)
