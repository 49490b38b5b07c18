"""NumPy reference of conv3d (csrc/kernels/conv3d/): a sum over the kernel taps of strided
slices of the zero-padded input, float64, written from the definition."""
import numpy as np

__all__ = ["conv3d_ref"]


def conv3d_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, k, o] = b[k] + Σ_{c ∈ group(k), a, i, j} w[k, c, a, i, j] ·
    x[n, c, o_d·s_d − p_d + a·d_d, o_h·s_h − p_h + i·d_h, o_w·s_w − p_w + j·d_w] (zero outside)."""
    t3 = (lambda v: (v,) * 3 if np.isscalar(v) else tuple(v))
    s, p, d = t3(stride), t3(padding), t3(dilation)
    x = np.pad(np.asarray(x, np.float64), [(0, 0), (0, 0)] + [(q, q) for q in p])
    w = np.asarray(w, np.float64)
    N, C = x.shape[:2]
    K, Cg = w.shape[:2]
    k = w.shape[2:]
    out = [(x.shape[2 + i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(3)]
    y = np.zeros((N, K) + tuple(out))
    Kg = K // groups
    for g in range(groups):
        xg = x[:, g * Cg:(g + 1) * Cg]
        wg = w[g * Kg:(g + 1) * Kg]
        for a in range(k[0]):
            for i in range(k[1]):
                for j in range(k[2]):
                    sl = xg[:, :, a * d[0]:a * d[0] + s[0] * out[0]:s[0],
                            i * d[1]:i * d[1] + s[1] * out[1]:s[1],
                            j * d[2]:j * d[2] + s[2] * out[2]:s[2]]
                    y[:, g * Kg:(g + 1) * Kg] += np.einsum("ncdhw,kc->nkdhw", sl,
                                                           wg[:, :, a, i, j])
    if b is not None:
        y += np.asarray(b, np.float64).reshape(1, -1, 1, 1, 1)
    return y
