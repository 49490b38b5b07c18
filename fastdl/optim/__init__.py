"""fastdl.optim: optimizers (one fused C++ update per parameter group), learning-rate
schedules (``fastdl.optim.lr_scheduler``) and ``EarlyStopping``.

Example::

    opt = fastdl.optim.AdamW(model.parameters(), lr=1e-3)
    sched = fastdl.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
"""
from .optimizer import *  # noqa: F401,F403
from .sgd import *  # noqa: F401,F403
from .adam import *  # noqa: F401,F403
from .adagrad import *  # noqa: F401,F403
from .rmsprop import *  # noqa: F401,F403
from .adadelta import *  # noqa: F401,F403
from .adamax import *  # noqa: F401,F403
from .nadam import *  # noqa: F401,F403
from .radam import *  # noqa: F401,F403
from .rprop import *  # noqa: F401,F403
from .asgd import *  # noqa: F401,F403
from .lbfgs import *  # noqa: F401,F403
from .early_stopping import *  # noqa: F401,F403
from . import lr_scheduler  # noqa: F401
