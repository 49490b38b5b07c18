"""The one op table: each public op is registered once, and both spellings are generated
from it — ``fastdl.<name>(x, ...)`` and ``Tensor.<name>(self, ...)``.

An op is a plain function whose first argument is the input tensor (as torch's functions
are)::

    from fastdl.ops.table import register

    @register()                       # fastdl.cumsum and Tensor.cumsum
    def cumsum(input, dim, *, dtype=None):
        ...

    @register(method=False)           # only fastdl.einsum
    def einsum(equation, *operands):
        ...

    @register(function=False)         # only Tensor.retain_grad
    def retain_grad(self):
        ...

``install`` (called once, at the end of ``fastdl/__init__.py``) writes every row onto the
Tensor class and the ``fastdl`` namespace. A name registered twice is an error at import
time, so two ops can never silently shadow each other — except one ``method=False`` row and
one ``function=False`` row under the same name (torch's function and method may differ).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Tuple


class OpRow(NamedTuple):
    """One row of the table: the public name, the function, and where it appears."""

    name: str
    fn: Callable
    method: bool            # installed as Tensor.<name>
    function: bool          # installed as fastdl.<name>
    aliases: Tuple[str, ...]


ROWS: dict = {}


def register(name: Optional[str] = None, *, method: bool = True, function: bool = True,
             aliases: Tuple[str, ...] = ()):
    """Decorator adding ``fn`` to the op table under ``name`` (default: ``fn.__name__``)
    and each of ``aliases``. Example: ``@register(aliases=("moveaxis",)) def movedim(...)``"""

    def deco(fn):
        key = name or fn.__name__
        slots = {}
        for n in (key,) + tuple(aliases):
            slots[n] = n
            old = ROWS.get(n)
            if old is None:
                continue
            # one function-only and one method-only row may share a name (torch's function
            # and method sometimes differ); anything else is a clash
            complementary = old.method != old.function and method != function and \
                old.method != method
            if not complementary or f"{n}#2" in ROWS:
                raise RuntimeError(f"op table: {n!r} is registered twice "
                                   f"({old.fn.__module__} and {fn.__module__})")
            slots[n] = f"{n}#2"
        row = OpRow(key, fn, method, function, tuple(aliases))
        ROWS[slots[key]] = row
        for a in aliases:
            ROWS[slots[a]] = row._replace(name=a)
        return fn

    return deco


def install(tensor_cls, namespace: dict) -> None:
    """Write every row onto ``tensor_cls`` (methods) and ``namespace`` (functions)."""
    for row in ROWS.values():
        if row.method:
            setattr(tensor_cls, row.name, row.fn)
        if row.function:
            namespace[row.name] = row.fn
