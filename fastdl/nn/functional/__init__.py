"""``fastdl.nn.functional`` (``F``): the Python entry of every kernel-backed op.

One file per family; each op here calls one ``fastdl._C`` binding
(``csrc/bindings/bind_<family>.cpp``) that runs one kernel (``csrc/kernels/<family>/``).
"""
from .activation import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .composite_loss import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .activation_ext import *  # noqa: F401,F403
from .dropout_ext import *  # noqa: F401,F403
from .embedding_bag import *  # noqa: F401,F403
from .normalization_ext import *  # noqa: F401,F403
from .shape_ext import *  # noqa: F401,F403
from .loss_ext import *  # noqa: F401,F403
from .pooling_ext import *  # noqa: F401,F403
from .sample import *  # noqa: F401,F403
from .conv3d import *  # noqa: F401,F403
from .misc_ext import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
