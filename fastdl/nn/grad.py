"""``fastdl.nn.grad``: the gradients of a convolution with respect to its input and its
weight, as functions (PyTorch's ``torch.nn.grad``): ``conv{1,2,3}d_input(input_size, weight,
grad_output, …)`` and ``conv{1,2,3}d_weight(input, weight_size, grad_output, …)``.

Each runs the convolution's own backward (the ``conv`` / ``conv3d`` kernels) through
``fastdl.autograd.grad``: for ``y = conv(x, w)``, ``conv*_input`` = ∂⟨grad_output, y⟩/∂x and
``conv*_weight`` = ∂⟨grad_output, y⟩/∂w.
"""
from .. import autograd
from ..autograd.grad_mode import enable_grad
from ..tensor import Tensor, as_tensor
from . import functional as F

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input",
           "conv3d_weight"]


def _t(x):
    return x if isinstance(x, Tensor) else as_tensor(x)


def _grad(conv, x, w, grad_output, wrt, stride, padding, dilation, groups):
    x, w, go = _t(x).detach(), _t(w).detach(), _t(grad_output).detach()
    x.requires_grad_(wrt == 0)
    w.requires_grad_(wrt == 1)
    with enable_grad():
        y = conv(x, w, None, stride, padding, dilation, groups)
        if tuple(y.shape) != tuple(go.shape):
            raise ValueError(f"grad_output has shape {tuple(go.shape)}, but the convolution "
                             f"of input {tuple(x.shape)} with weight {tuple(w.shape)} gives "
                             f"{tuple(y.shape)}")
        (g,) = autograd.grad(y, [x if wrt == 0 else w], go)
    return g


def _input(conv):
    def f(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
        import fastdl
        w = _t(weight)
        x = fastdl.zeros(*tuple(int(s) for s in input_size), dtype=w.dtype)
        return _grad(conv, x, w, grad_output, 0, stride, padding, dilation, groups)
    return f


def _weight(conv):
    def f(input, weight_size, grad_output, stride=1, padding=0, dilation=1,  # noqa: A002
          groups=1):
        import fastdl
        x = _t(input)
        w = fastdl.zeros(*tuple(int(s) for s in weight_size), dtype=x.dtype)
        return _grad(conv, x, w, grad_output, 1, stride, padding, dilation, groups)
    return f


def _doc(fn, name, dims, which):
    fn.__name__ = fn.__qualname__ = name
    if which == "input":
        fn.__doc__ = (f"The gradient of ``conv{dims}d(x, weight, …)`` with respect to its input "
                      f"x of shape ``input_size``, for the output gradient ``grad_output``.\n\n"
                      f"    Example: ``nn.grad.{name}(x.shape, w, gy, padding=1)`` equals "
                      f"``x.grad`` after ``F.conv{dims}d(x, w, padding=1).backward(gy)``.\n")
    else:
        fn.__doc__ = (f"The gradient of ``conv{dims}d(input, w, …)`` with respect to its weight "
                      f"w of shape ``weight_size``, for the output gradient ``grad_output``.\n\n"
                      f"    Example: ``nn.grad.{name}(x, w.shape, gy, padding=1)`` equals "
                      f"``w.grad`` after ``F.conv{dims}d(x, w, padding=1).backward(gy)``.\n")
    return fn


conv1d_input = _doc(_input(F.conv1d), "conv1d_input", 1, "input")
conv1d_weight = _doc(_weight(F.conv1d), "conv1d_weight", 1, "weight")
conv2d_input = _doc(_input(F.conv2d), "conv2d_input", 2, "input")
conv2d_weight = _doc(_weight(F.conv2d), "conv2d_weight", 2, "weight")
conv3d_input = _doc(_input(F.conv3d), "conv3d_input", 3, "input")
conv3d_weight = _doc(_weight(F.conv3d), "conv3d_weight", 3, "weight")
