"""``fastdl.func``: functional transforms of modules (PyTorch's ``torch.func``). So far:
``functional_call``.

Example: ``fastdl.func.functional_call(model, params, (x,))``
"""
from ..nn.utils.stateless import functional_call

__all__ = ["functional_call"]
