"""``fastdl.nn.utils.memory_format``: ``convert_conv2d_weight_memory_format`` and
``convert_conv3d_weight_memory_format``."""
from __future__ import annotations

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert(module, memory_format, fn):
    from ... import channels_last, channels_last_3d, contiguous_format, preserve_format
    if memory_format not in (contiguous_format, channels_last, channels_last_3d,
                             preserve_format):
        raise TypeError(f"{fn}: memory_format must be a fastdl.memory_format, got "
                        f"{memory_format!r}")
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    """Torch stores the weights of every ``Conv2d``/``ConvTranspose2d`` in ``module`` in
    ``memory_format`` (channels_last to pick its NHWC kernels). fastdl's convolutions choose
    their layout internally from the contiguous weight, so this checks ``memory_format`` and
    returns ``module`` unchanged; the outputs are the same as torch's.

    Example: ``model = convert_conv2d_weight_memory_format(model, fastdl.channels_last)``
    """
    return _convert(module, memory_format, "convert_conv2d_weight_memory_format")


def convert_conv3d_weight_memory_format(module, memory_format):
    """As ``convert_conv2d_weight_memory_format`` for ``Conv3d``/``ConvTranspose3d``
    (torch: ``channels_last_3d``); fastdl returns ``module`` unchanged.

    Example: ``model = convert_conv3d_weight_memory_format(model, fastdl.channels_last_3d)``
    """
    return _convert(module, memory_format, "convert_conv3d_weight_memory_format")
