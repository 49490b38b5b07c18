"""fastdl.utils: ``data`` (datasets, samplers, DataLoader), ``checkpoint`` (activation
checkpointing), ``hooks``, and image helpers (``make_grid``, ``save_image``)."""
from .image import make_grid, save_image  # noqa: E402,F401
