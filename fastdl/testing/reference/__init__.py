"""Plain NumPy references for every fastdl kernel: slow, obvious, float64-friendly.

Tests hold the kernels to these; benchmarks time the kernels against them. One file per
kernel family.
"""
from .conv import *  # noqa: F401,F403
from .eltwise import *  # noqa: F401,F403
from .gemm import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403


def _check_unique_names():
    """Each family's references live in one namespace: two families exporting one name would
    silently shadow each other, so importing refuses that."""
    import importlib
    seen = {}
    for fam in ("conv", "eltwise", "gemm", "loss", "norm", "optim", "pool", "nn"):
        mod = importlib.import_module(f"{__name__}.{fam}")
        for name in getattr(mod, "__all__", ()):
            if name in seen:
                raise ImportError(f"fastdl.testing.reference: '{name}' is exported by both "
                                  f"{seen[name]} and {fam}")
            seen[name] = fam


_check_unique_names()
