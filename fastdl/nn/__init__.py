"""Layers and models with PyTorch's names, arguments and defaults (``fastdl.nn``)."""
from . import functional, init, utils  # noqa: F401
from .modules.module import (Buffer, Module, ModuleDict, ModuleList, Parameter,  # noqa: F401
                             ParameterDict, ParameterList, Sequential)
from .modules.activation import *  # noqa: F401,F403
from .modules.attention import *  # noqa: F401,F403
from .modules.conv import *  # noqa: F401,F403
from .modules.dropout import *  # noqa: F401,F403
from .modules.flatten import *  # noqa: F401,F403
from .modules.linear import *  # noqa: F401,F403
from .modules.loss import *  # noqa: F401,F403
from .modules.normalization import *  # noqa: F401,F403
from .modules.padding import *  # noqa: F401,F403
from .modules.pooling import *  # noqa: F401,F403
from .modules.rnn import *  # noqa: F401,F403
from .modules.sparse import *  # noqa: F401,F403
from .modules.activation_ext import *  # noqa: F401,F403
from .modules.dropout_ext import *  # noqa: F401,F403
from .modules.normalization_ext import *  # noqa: F401,F403
from .modules.pixelshuffle import *  # noqa: F401,F403
from .modules.sparse_ext import *  # noqa: F401,F403
from .modules.transformer import *  # noqa: F401,F403
from .modules.adaptive import *  # noqa: F401,F403
from .modules.loss_ext import *  # noqa: F401,F403
from .modules.pooling_ext import *  # noqa: F401,F403
from .modules.conv3d import *  # noqa: F401,F403
from .modules.padding3d import *  # noqa: F401,F403
from .modules.lazy import *  # noqa: F401,F403
from .modules.misc_ext import *  # noqa: F401,F403
from . import common_types, grad, parameter  # noqa: F401,E402  (torch.nn's submodules)
