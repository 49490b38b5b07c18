"""NumPy reference of the CTC loss (csrc/kernels/ctc/): the α/β recursions written out
plainly in log space, float64. ``ctc_grad_ref`` returns the gradient in PyTorch's convention
(see ``ctc.h``)."""
import numpy as np

__all__ = ["ctc_nll_ref", "ctc_grad_ref"]


def _ext(labels, blank):
    e = [blank]
    for v in labels:
        e += [int(v), blank]
    return e


def _lse(*v):
    v = np.array(v, dtype=np.float64)
    m = v.max()
    if m == -np.inf:
        return -np.inf
    return m + np.log(np.exp(v - m).sum())


def _alpha(lp, ext, blank):
    T, S = lp.shape[0], len(ext)
    a = np.full((T, S), -np.inf)
    if T == 0:
        return a
    a[0, 0] = lp[0, blank]
    if S > 1:
        a[0, 1] = lp[0, ext[1]]
    for t in range(1, T):
        for s in range(S):
            terms = [a[t - 1, s]]
            if s >= 1:
                terms.append(a[t - 1, s - 1])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                terms.append(a[t - 1, s - 2])
            a[t, s] = lp[t, ext[s]] + _lse(*terms)
    return a


def _beta(lp, ext, blank):
    T, S = lp.shape[0], len(ext)
    b = np.full((T, S), -np.inf)
    b[T - 1, S - 1] = lp[T - 1, blank]
    if S > 1:
        b[T - 1, S - 2] = lp[T - 1, ext[S - 2]]
    for t in range(T - 2, -1, -1):
        for s in range(S):
            terms = [b[t + 1, s]]
            if s + 1 < S:
                terms.append(b[t + 1, s + 1])
            if s + 2 < S and ext[s] != blank and ext[s] != ext[s + 2]:
                terms.append(b[t + 1, s + 2])
            b[t, s] = lp[t, ext[s]] + _lse(*terms)
    return b


def ctc_nll_ref(log_probs, targets, input_lengths, target_lengths, blank=0):
    """Per-sample −log p(target | input) for log_probs (T, N, C) and padded targets (N, S)."""
    T, N, C = log_probs.shape
    out = np.zeros(N)
    for n in range(N):
        Tn, L = int(input_lengths[n]), int(target_lengths[n])
        ext = _ext(targets[n][:L], blank)
        if Tn == 0:
            out[n] = 0.0 if L == 0 else np.inf
            continue
        a = _alpha(log_probs[:Tn, n].astype(np.float64), ext, blank)
        S = len(ext)
        out[n] = -(_lse(a[Tn - 1, S - 1], a[Tn - 1, S - 2]) if S > 1 else a[Tn - 1, 0])
    return out


def ctc_grad_ref(log_probs, targets, input_lengths, target_lengths, g, blank=0):
    """Gradient (T, N, C) of Σ g[n]·nll[n], PyTorch's convention:
    g[n]·(exp(lp) − Σ_{s: l'_s = c} α_t(s)β_t(s) / (p·exp(lp))) for t < T_n, else 0."""
    T, N, C = log_probs.shape
    grad = np.zeros((T, N, C))
    nll = ctc_nll_ref(log_probs, targets, input_lengths, target_lengths, blank)
    for n in range(N):
        Tn, L = int(input_lengths[n]), int(target_lengths[n])
        if Tn == 0:
            continue
        ext = _ext(targets[n][:L], blank)
        lp = log_probs[:Tn, n].astype(np.float64)
        a, b = _alpha(lp, ext, blank), _beta(lp, ext, blank)
        for t in range(Tn):
            for c in range(C):
                terms = [a[t, s] + b[t, s] for s in range(len(ext)) if ext[s] == c]
                lc = _lse(*terms) if terms else -np.inf
                grad[t, n, c] = (np.exp(lp[t, c]) - np.exp(lc + nll[n] - lp[t, c])) * g[n]
    return grad
