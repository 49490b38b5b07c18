"""NumPy reference of the 3-D pooling kernels (csrc/kernels/pool3d/): adaptive average
pooling over (D, H, W), forward and backward, one loop over outputs, float64."""
import numpy as np

__all__ = ["adaptive_avg_pool3d_ref", "adaptive_avg_pool3d_backward_ref"]


def _win(i, n, o):
    """Adaptive window of output i of o over n inputs: [floor(i·n/o), ceil((i+1)·n/o))."""
    return (i * n) // o, -((-(i + 1) * n) // o)


def adaptive_avg_pool3d_ref(x, output_size):
    """(N, C, OD, OH, OW): each output the mean of x over the product of its three windows."""
    x = np.asarray(x, dtype=np.float64)
    N, C, D, H, W = x.shape
    OD, OH, OW = output_size
    y = np.zeros((N, C, OD, OH, OW))
    for i in range(OD):
        d0, d1 = _win(i, D, OD)
        for j in range(OH):
            h0, h1 = _win(j, H, OH)
            for k in range(OW):
                w0, w1 = _win(k, W, OW)
                y[:, :, i, j, k] = x[:, :, d0:d1, h0:h1, w0:w1].mean(axis=(2, 3, 4))
    return y


def adaptive_avg_pool3d_backward_ref(gy, input_shape):
    """(N, C, D, H, W): each output's gradient spread evenly over its window."""
    gy = np.asarray(gy, dtype=np.float64)
    N, C, D, H, W = input_shape
    OD, OH, OW = gy.shape[2:]
    gx = np.zeros((N, C, D, H, W))
    for i in range(OD):
        d0, d1 = _win(i, D, OD)
        for j in range(OH):
            h0, h1 = _win(j, H, OH)
            for k in range(OW):
                w0, w1 = _win(k, W, OW)
                cnt = (d1 - d0) * (h1 - h0) * (w1 - w0)
                gx[:, :, d0:d1, h0:h1, w0:w1] += gy[:, :, i, j, k][:, :, None, None, None] / cnt
    return gx
