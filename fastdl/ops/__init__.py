"""fastdl's ops, grouped by kind, each registered once in the op table (``table.py``),
which generates ``fastdl.<name>`` and ``Tensor.<name>``.

Each module below registers its ops when imported; ``fastdl/__init__.py`` imports this
package and then calls ``table.install``.
"""
from . import table  # noqa: F401


def load():
    """Import the op modules, each registering its rows in the table. ``table.install``
    calls this first: the modules need the finished Tensor class, and this package is
    already imported while ``tensor.py`` loads (for ``promotion``)."""
    from . import math  # noqa: F401
    from . import select  # noqa: F401
    from . import scan  # noqa: F401
    from . import stats  # noqa: F401
    from . import sort  # noqa: F401
    from . import shape_ext  # noqa: F401
    from . import linalg_ops  # noqa: F401
    from . import sampling  # noqa: F401
    from .. import sparse  # noqa: F401  (sparse_coo_tensor, spmm, to_sparse)
