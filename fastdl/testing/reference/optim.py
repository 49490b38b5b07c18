"""NumPy references: optimizer updates (one tensor at a time) and gradient clipping.

Each ``<name>_step(p, g, state, **hyper)`` updates the NumPy array ``p`` in place from the
gradient ``g`` and the dict ``state`` (created empty by the caller, filled on the first
step), with torch.optim's single-tensor formulas in the array's dtype; scalars derived from
the step count are computed in Python floats, as PyTorch does.

Example::

    state = {}
    for g in grads:
        adam_step(p, g, state, lr=1e-3)
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["sgd_step", "adam_step", "adamw_step", "adagrad_step", "rmsprop_step",
           "adadelta_step", "adamax_step", "nadam_step", "radam_step", "rprop_step", "asgd_step",
           "REFERENCE_STEPS",
           "clip_grad_norm_ref", "clip_grad_value_ref"]


def _lerp(start, end, w):
    """torch.lerp: start + w (end - start) when w < 0.5, else end - (end - start)(1 - w)."""
    w = start.dtype.type(w)
    if w < 0.5:
        return start + w * (end - start)
    return end - (end - start) * (start.dtype.type(1) - w)


def _grad(p, g, weight_decay, maximize):
    g = -g if maximize else g.copy()
    if weight_decay != 0:
        g = g + p.dtype.type(weight_decay) * p
    return g


def _decayed_grad(p, g, lr, weight_decay, decoupled, maximize):
    """Weight decay of the Adam family: p ← p·(1 − lr·λ) when decoupled (AdamW), else
    g ← g + λ·p; g negated when maximize. Returns g."""
    if weight_decay != 0 and decoupled:
        p *= _c(p, 1 - lr * weight_decay)
        return -g if maximize else g
    return _grad(p, g, weight_decay, maximize)


def _adam_moments(p, g, state, b1, b2):
    """m ← m + (1 − β₁)(g − m), v ← β₂·v + (1 − β₂)·g², in place in state; returns (m, v)."""
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m[...] = _lerp(m, g, 1 - b1)
    v[...] = v * _c(p, b2) + _c(p, 1 - b2) * g * g
    return m, v


def _c(p, x):
    """A Python scalar rounded to the array's dtype (what torch passes to its kernels)."""
    return p.dtype.type(x)


def sgd_step(p, g, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
             nesterov=False, maximize=False):
    g = _grad(p, g, weight_decay, maximize)
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = g.copy()
        else:
            buf[...] = buf * _c(p, momentum) + _c(p, 1 - dampening) * g
        g = g + _c(p, momentum) * buf if nesterov else buf
    p -= _c(p, lr) * g


def adam_step(p, g, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              amsgrad=False, maximize=False, decoupled_weight_decay=False):
    b1, b2 = betas
    if not state:
        state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
        if amsgrad:
            state["max_exp_avg_sq"] = np.zeros_like(p)
    state["step"] += 1
    t = state["step"]
    g = _decayed_grad(p, g, lr, weight_decay, decoupled_weight_decay, maximize)
    m, v = _adam_moments(p, g, state, b1, b2)
    if amsgrad:
        np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        v = state["max_exp_avg_sq"]
    step_size = lr / (1 - b1 ** t)
    bc2_sqrt = (1 - b2 ** t) ** 0.5
    denom = np.sqrt(v) / _c(p, bc2_sqrt) + _c(p, eps)
    p += _c(p, -step_size) * (m / denom)


def adamw_step(p, g, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
               amsgrad=False, maximize=False):
    adam_step(p, g, state, lr, betas, eps, weight_decay, amsgrad, maximize,
              decoupled_weight_decay=True)


def adagrad_step(p, g, state, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, maximize=False):
    if not state:
        state.update(step=0, sum=np.full_like(p, initial_accumulator_value))
    state["step"] += 1
    g = _grad(p, g, weight_decay, maximize)
    clr = lr / (1 + (state["step"] - 1) * lr_decay)
    s = state["sum"]
    s += g * g
    p += _c(p, -clr) * (g / (np.sqrt(s) + _c(p, eps)))


def rmsprop_step(p, g, state, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, maximize=False):
    if not state:
        state.update(step=0, square_avg=np.zeros_like(p))
        if momentum > 0:
            state["momentum_buffer"] = np.zeros_like(p)
        if centered:
            state["grad_avg"] = np.zeros_like(p)
    state["step"] += 1
    g = _grad(p, g, weight_decay, maximize)
    sq = state["square_avg"]
    sq[...] = sq * _c(p, alpha) + _c(p, 1 - alpha) * g * g
    if centered:
        ga = state["grad_avg"]
        ga[...] = _lerp(ga, g, 1 - alpha)
        avg = np.sqrt(sq - ga * ga)
    else:
        avg = np.sqrt(sq)
    avg = avg + _c(p, eps)
    if momentum > 0:
        buf = state["momentum_buffer"]
        buf[...] = buf * _c(p, momentum) + g / avg
        p -= _c(p, lr) * buf
    else:
        p += _c(p, -lr) * (g / avg)


def adadelta_step(p, g, state, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    if not state:
        state.update(step=0, square_avg=np.zeros_like(p), acc_delta=np.zeros_like(p))
    state["step"] += 1
    g = _grad(p, g, weight_decay, maximize)
    sq, acc = state["square_avg"], state["acc_delta"]
    sq[...] = sq * _c(p, rho) + _c(p, 1 - rho) * g * g
    std = np.sqrt(sq + _c(p, eps))
    delta = np.sqrt(acc + _c(p, eps)) / std * g
    acc[...] = acc * _c(p, rho) + _c(p, 1 - rho) * delta * delta
    p -= _c(p, lr) * delta


def adamax_step(p, g, state, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                maximize=False):
    b1, b2 = betas
    if not state:
        state.update(step=0, exp_avg=np.zeros_like(p), exp_inf=np.zeros_like(p))
    state["step"] += 1
    g = _grad(p, g, weight_decay, maximize)
    m, u = state["exp_avg"], state["exp_inf"]
    m[...] = _lerp(m, g, 1 - b1)
    np.maximum(u * _c(p, b2), np.abs(g) + _c(p, eps), out=u)
    clr = lr / (1 - b1 ** state["step"])
    p += _c(p, -clr) * (m / u)


def nadam_step(p, g, state, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
               momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    if not state:
        state.update(step=0, mu_product=1.0, exp_avg=np.zeros_like(p),
                     exp_avg_sq=np.zeros_like(p))
    state["step"] += 1
    t = state["step"]
    g = _decayed_grad(p, g, lr, weight_decay, decoupled_weight_decay, maximize)
    mu = b1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    state["mu_product"] *= mu
    prod = state["mu_product"]
    m, v = _adam_moments(p, g, state, b1, b2)
    denom = np.sqrt(v / _c(p, 1 - b2 ** t)) + _c(p, eps)
    p += _c(p, -lr * (1 - mu) / (1 - prod)) * (g / denom)
    p += _c(p, -lr * mu_next / (1 - prod * mu_next)) * (m / denom)


def radam_step(p, g, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
               decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    if not state:
        state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
    state["step"] += 1
    t = state["step"]
    g = _decayed_grad(p, g, lr, weight_decay, decoupled_weight_decay, maximize)
    m, v = _adam_moments(p, g, state, b1, b2)
    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2 ** t / bc2
    upd = m / _c(p, bc1) * _c(p, lr)
    if rho_t > 5.0:
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf /
                         ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        upd = upd * (_c(p, bc2 ** 0.5) / (np.sqrt(v) + _c(p, eps))) * _c(p, rect)
    p -= upd


def rprop_step(p, g, state, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    em, ep = etas
    if not state:
        state.update(step=0, prev=np.zeros_like(p), step_size=np.full_like(p, lr))
    state["step"] += 1
    g = -g if maximize else g.copy()
    prev, step = state["prev"], state["step_size"]
    s = g * prev
    f = np.where(s > 0, _c(p, ep), np.where(s < 0, _c(p, em), np.where(s == 0, _c(p, 1), s)))
    step[...] = np.clip(step * f, _c(p, step_sizes[0]), _c(p, step_sizes[1]))
    g[f == _c(p, em)] = 0
    p -= np.sign(g) * step
    prev[...] = g


def asgd_step(p, g, state, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0,
              maximize=False):
    if not state:
        state.update(step=0, ax=np.zeros_like(p))
    state["step"] += 1
    t = state["step"]
    g = _grad(p, g, weight_decay, maximize)
    eta = float(np.float32(lr / (1 + lambd * lr * (t - 1)) ** alpha))
    mu = float(np.float32(1 / max(1.0, t - 1 - t0)))
    p *= _c(p, 1 - lambd * eta)
    p += _c(p, -eta) * g
    ax = state["ax"]
    if mu == 1:
        ax[...] = p
    else:
        ax += (p - ax) * _c(p, mu)


# Optimizer class name -> reference step function.
REFERENCE_STEPS = {"SGD": sgd_step, "Adam": adam_step, "AdamW": adamw_step,
                   "Adagrad": adagrad_step, "RMSprop": rmsprop_step,
                   "Adadelta": adadelta_step, "Adamax": adamax_step, "NAdam": nadam_step,
                   "RAdam": radam_step, "Rprop": rprop_step, "ASGD": asgd_step}


def clip_grad_norm_ref(grads, max_norm, norm_type=2.0):
    """Scale the arrays ``grads`` in place so their total p-norm is at most ``max_norm``
    (coefficient max_norm / (norm + 1e-6), clamped to 1); returns the norm (float64)."""
    flat = np.concatenate([np.asarray(g, np.float64).ravel() for g in grads])
    if math.isinf(norm_type):
        total = float(np.max(np.abs(flat))) if flat.size else 0.0
    else:
        total = float(np.sum(np.abs(flat) ** norm_type) ** (1.0 / norm_type))
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g *= g.dtype.type(coef)
    return total


def clip_grad_value_ref(grads, clip_value):
    """Clamp the arrays ``grads`` in place to [-clip_value, clip_value]."""
    for g in grads:
        np.clip(g, -clip_value, clip_value, out=g)
