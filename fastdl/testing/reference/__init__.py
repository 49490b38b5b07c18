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
