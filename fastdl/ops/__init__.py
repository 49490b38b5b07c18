"""fastdl's ops, grouped by kind, each registered once in the op table (``table.py``),
which generates ``fastdl.<name>`` and ``Tensor.<name>``.

Each module below registers its ops when imported; ``fastdl/__init__.py`` imports this
package and then calls ``table.install``.
"""
from . import table  # noqa: F401
from . import math  # noqa: F401
from . import select  # noqa: F401
from . import scan  # noqa: F401
from . import stats  # noqa: F401
from . import sort  # noqa: F401
from . import shape_ext  # noqa: F401
from . import linalg_ops  # noqa: F401
from ..multiprocessing import _sharing  # noqa: F401,E402  (Tensor.share_memory_, is_shared)
