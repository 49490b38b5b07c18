"""NumPy reference of the 3-D pooling kernels (csrc/kernels/pool3d/): adaptive and windowed
(``avg_pool3d``) average pooling over (D, H, W), forward and backward, one loop over outputs,
float64."""
import numpy as np

__all__ = ["adaptive_avg_pool3d_ref", "adaptive_avg_pool3d_backward_ref", "avg_pool3d_ref",
           "avg_pool3d_backward_ref"]


def _win(i, n, o):
    """Adaptive window of output i of o over n inputs: [floor(i·n/o), ceil((i+1)·n/o))."""
    return (i * n) // o, -((-(i + 1) * n) // o)


def _windows(in_size, out_size):
    """Every output (i, j, k) of an adaptive 3-D pooling of ``in_size`` (D, H, W) to
    ``out_size`` (OD, OH, OW) with the slices of its window: yields ((i, j, k), window)."""
    (D, H, W), (OD, OH, OW) = in_size, out_size
    for i in range(OD):
        d0, d1 = _win(i, D, OD)
        for j in range(OH):
            h0, h1 = _win(j, H, OH)
            for k in range(OW):
                w0, w1 = _win(k, W, OW)
                yield (i, j, k), (slice(d0, d1), slice(h0, h1), slice(w0, w1))


def adaptive_avg_pool3d_ref(x, output_size):
    """(N, C, OD, OH, OW): each output the mean of x over the product of its three windows."""
    x = np.asarray(x, dtype=np.float64)
    N, C = x.shape[:2]
    y = np.zeros((N, C) + tuple(output_size))
    for (i, j, k), win in _windows(x.shape[2:], output_size):
        y[:, :, i, j, k] = x[(..., *win)].mean(axis=(2, 3, 4))
    return y


def adaptive_avg_pool3d_backward_ref(gy, input_shape):
    """(N, C, D, H, W): each output's gradient spread evenly over its window."""
    gy = np.asarray(gy, dtype=np.float64)
    gx = np.zeros(tuple(input_shape))
    for (i, j, k), win in _windows(tuple(input_shape)[2:], gy.shape[2:]):
        cnt = np.prod([s.stop - s.start for s in win])
        gx[(..., *win)] += gy[:, :, i, j, k][:, :, None, None, None] / cnt
    return gx


def _avg_windows(in_size, kernel, stride, padding, ceil_mode, count_include_pad,
                 divisor_override):
    """Every output of ``avg_pool3d`` (PyTorch's rules) with its window slices and divisor:
    yields ((i, j, k), window, divisor); the output size first."""
    outs, axes = [], []
    for n, k, s, p in zip(in_size, kernel, stride, padding):
        num = n + 2 * p - k
        o = (-(-num // s) if ceil_mode else num // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        wins = []
        for i in range(o):
            start, end = i * s - p, min(i * s - p + k, n + p)
            lo, hi = max(start, 0), min(end, n)
            wins.append((slice(lo, hi), end - start, hi - lo))
        outs.append(o)
        axes.append(wins)
    return tuple(outs), [
        ((i, j, k), (a[0], b[0], c[0]),
         divisor_override if divisor_override else
         (a[1] * b[1] * c[1] if count_include_pad else a[2] * b[2] * c[2]))
        for i, a in enumerate(axes[0]) for j, b in enumerate(axes[1])
        for k, c in enumerate(axes[2])]


def avg_pool3d_ref(x, kernel, stride, padding=(0, 0, 0), ceil_mode=False,
                   count_include_pad=True, divisor_override=None):
    """(N, C, OD, OH, OW): each output the sum over its clipped window / its divisor."""
    x = np.asarray(x, dtype=np.float64)
    out, wins = _avg_windows(x.shape[2:], kernel, stride, padding, ceil_mode,
                             count_include_pad, divisor_override)
    y = np.zeros(x.shape[:2] + out)
    for (i, j, k), win, div in wins:
        y[:, :, i, j, k] = x[(..., *win)].sum(axis=(2, 3, 4)) / div
    return y


def avg_pool3d_backward_ref(gy, input_shape, kernel, stride, padding=(0, 0, 0),
                            ceil_mode=False, count_include_pad=True, divisor_override=None):
    """(N, C, D, H, W): each output's gradient / its divisor added over its window."""
    gy = np.asarray(gy, dtype=np.float64)
    gx = np.zeros(tuple(input_shape))
    _, wins = _avg_windows(tuple(input_shape)[2:], kernel, stride, padding, ceil_mode,
                           count_include_pad, divisor_override)
    for (i, j, k), win, div in wins:
        gx[(..., *win)] += gy[:, :, i, j, k][:, :, None, None, None] / div
    return gx
