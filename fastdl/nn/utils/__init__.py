"""fastdl.nn.utils: gradient clipping (one fused kernel over all gradients), parameter
vectors, L1/L2 penalties, and ``nn.utils.rnn`` (padding variable-length sequences).

Example::

    fastdl.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
"""
from .clip_grad import *  # noqa: F401,F403
from .convert_parameters import *  # noqa: F401,F403
from .penalty import *  # noqa: F401,F403
from .fusion import *  # noqa: F401,F403
from . import rnn  # noqa: F401
from . import parametrize, parametrizations, stateless  # noqa: F401
from .legacy_norms import *  # noqa: F401,F403
from . import init, memory_format  # noqa: F401
from .init import skip_init  # noqa: F401
from .memory_format import (convert_conv2d_weight_memory_format,  # noqa: F401
                            convert_conv3d_weight_memory_format)
