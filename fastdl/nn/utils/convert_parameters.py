"""``parameters_to_vector`` and ``vector_to_parameters``."""
from __future__ import annotations

import numpy as np

from ...tensor import Tensor, cat

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """One 1-D Tensor holding every parameter, flattened, in order (differentiable: it is a
    concatenation of reshapes).

    Example: ``v = parameters_to_vector(model.parameters())``
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parts = [p.reshape(-1) for p in parameters]
    if not parts:
        raise ValueError("parameters_to_vector: no parameters")
    return cat(parts)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` in place (not
    recorded by autograd). Differs from PyTorch, which makes the parameters views of
    ``vec``: here each parameter keeps its own storage. ``vec`` must have exactly as many
    elements as the parameters together.

    Example: ``vector_to_parameters(v * 0.5, model.parameters())``
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, got "
                        f"{type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {vec.shape}")
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if total != vec.shape[0]:
        raise ValueError(f"vector_to_parameters: vec has {vec.shape[0]} elements, the "
                         f"parameters {total}")
    src = vec._array
    pos = 0
    for p in parameters:
        n = p.numel()
        np.copyto(p._array, src[pos:pos + n].reshape(p.shape), casting="unsafe")
        p._vc[0] += 1
        pos += n
