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
