"""``fastdl.backends``: the switches portable scripts set. ``cudnn.benchmark``,
``cudnn.deterministic`` and ``cudnn.enabled`` are settable and change nothing (fastdl's
kernels are deterministic for any thread count); ``mps.is_available()`` and
``cuda.is_built()`` are False. Example: ``fastdl.backends.cudnn.benchmark = True``"""
from __future__ import annotations

import types as _types


class _Flags(_types.ModuleType):
    """A namespace of settable flags (a module object, so ``import`` forms work too)."""


cudnn = _Flags("fastdl.backends.cudnn", "cuDNN switches: settable, without effect in fastdl.")
cudnn.benchmark = False
cudnn.deterministic = False
cudnn.enabled = True
cudnn.allow_tf32 = False
cudnn.is_available = lambda: False
cudnn.version = lambda: None

mps = _Flags("fastdl.backends.mps", "Apple MPS: not available in fastdl (CPU only).")
mps.is_available = lambda: False
mps.is_built = lambda: False

cuda = _Flags("fastdl.backends.cuda", "CUDA switches: not built into fastdl (CPU only).")
cuda.is_built = lambda: False
cuda.matmul = _Flags("fastdl.backends.cuda.matmul")
cuda.matmul.allow_tf32 = False
cuda.matmul.allow_fp16_reduced_precision_reduction = False

mkldnn = _Flags("fastdl.backends.mkldnn", "oneDNN: not used by fastdl.")
mkldnn.is_available = lambda: False
mkldnn.enabled = False

openmp = _Flags("fastdl.backends.openmp", "OpenMP: fastdl's kernels use it.")
openmp.is_available = lambda: True

__all__ = ["cudnn", "mps", "cuda", "mkldnn", "openmp"]
