"""``RemovableHandle``: what every ``register_*hook`` returns (PyTorch's name and API)."""
from __future__ import annotations

import itertools
import weakref

__all__ = ["RemovableHandle"]


class RemovableHandle:
    """A handle to a registered hook: ``handle.remove()`` unregisters it (removing twice, or
    after the owner is gone, does nothing). Also a context manager that removes the hook on
    exit. ``hooks_dict`` is the ordered dict the hook was stored in under ``handle.id``;
    ``extra_dict`` (a dict or a list of dicts) holds per-hook flags to drop with it.

    Example::

        h = model.register_forward_hook(lambda m, args, out: print(out.shape))
        model(x)      # prints
        h.remove()
    """

    _ids = itertools.count()

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = next(RemovableHandle._ids)
        if extra_dict is None:
            extra = ()
        elif isinstance(extra_dict, (list, tuple)):
            extra = tuple(extra_dict)
        else:
            extra = (extra_dict,)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra)

    def remove(self) -> None:
        """Unregister the hook (no-op if already removed)."""
        d = self.hooks_dict_ref()
        if d is not None:
            d.pop(self.id, None)
        for ref in self.extra_dict_ref:
            e = ref()
            if e is not None:
                e.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def __repr__(self):
        return f"<RemovableHandle id={self.id}>"
