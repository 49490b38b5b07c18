"""``fastdl.nn.utils.init``: ``skip_init``."""
from __future__ import annotations

import inspect

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """Build ``module_cls(*args, **kwargs)`` for parameters that will be overwritten (e.g. by
    ``load_state_dict``): torch's contract is that their values are unspecified. fastdl has no
    meta device, so the module is built as usual (its initial values are one valid choice of
    "unspecified"). Like torch, ``module_cls`` must be a Module class taking a ``device``
    argument (RuntimeError otherwise).

    Example: ``m = fastdl.nn.utils.skip_init(fastdl.nn.Linear, 5, 1)`` then
    ``m.load_state_dict(sd)``
    """
    from ..modules.module import Module
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    return module_cls(*args, **kwargs)
