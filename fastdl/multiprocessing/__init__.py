"""``fastdl.multiprocessing`` (PyTorch's ``torch.multiprocessing``): the standard library's
``multiprocessing`` with Tensors that travel through shared memory.

Everything of ``multiprocessing`` is here (``Process``, ``Queue``, ``Pipe``, ``Pool``,
``get_context``, ...). Importing this module registers a reducer with
``multiprocessing.reduction.ForkingPickler``: a Tensor (or ``nn.Parameter``) sent through a
queue, a pipe, or as an argument of a spawned process is moved into shared memory
(``Tensor.share_memory_()``) and arrives as a view of the same pages, so writes on either
side are seen by both. ``Module.share_memory()`` shares every parameter and buffer of a
model, which makes Hogwild-style training work: several processes updating one model
without locks.

Example::

    import fastdl.multiprocessing as mp

    def train(model):
        opt = fastdl.optim.SGD(model.parameters(), lr=0.01)
        ...                                  # updates land in the shared parameters

    model.share_memory()
    procs = [mp.Process(target=train, args=(model,)) for _ in range(2)]
    for p in procs: p.start()
    for p in procs: p.join()
"""
from multiprocessing import *  # noqa: F401,F403
from multiprocessing import get_context, get_start_method, set_start_method  # noqa: F401
from multiprocessing.reduction import ForkingPickler as _ForkingPickler

from ..tensor import Tensor as _Tensor
from ._sharing import reduce_tensor_shared as _reduce_shared


def _init_reductions():
    """Register the shared-memory reducer for Tensor and every subclass defined so far
    (ForkingPickler looks reducers up by exact type). Runs at import and again whenever a
    tensor is shared, so classes defined later (``nn.Parameter``) are covered before a model
    is sent to another process."""
    todo = [_Tensor]
    while todo:
        cls = todo.pop()
        if cls not in _ForkingPickler._extra_reducers:
            _ForkingPickler.register(cls, _reduce_shared)
        todo.extend(cls.__subclasses__())


_init_reductions()
