"""``fastdl.Size``: the type of ``x.shape`` and ``x.size()``, a tuple of ints with
``numel()``, as ``torch.Size``. Example: ``fastdl.zeros(2, 3).shape.numel() == 6``"""
from __future__ import annotations


class Size(tuple):
    """A tuple of dimension sizes; ``numel()`` is their product, slicing gives a Size,
    repr ``fastdl.Size([2, 3])``. Compares equal to the plain tuple of the same sizes.
    Example: ``fastdl.Size([2, 3]).numel() == 6``"""

    __slots__ = ()

    def numel(self):
        """The number of elements a tensor of this shape has."""
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def __repr__(self):
        return f"fastdl.Size({list(self)})"

    def __reduce__(self):
        return (Size, (tuple(self),))
