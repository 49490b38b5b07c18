"""NumPy reference of the 3-D pooling kernels (csrc/kernels/pool3d/): adaptive average
pooling over (D, H, W), forward and backward, one loop over outputs, float64."""
import numpy as np

__all__ = ["adaptive_avg_pool3d_ref", "adaptive_avg_pool3d_backward_ref"]


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
