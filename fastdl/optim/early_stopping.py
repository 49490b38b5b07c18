"""``fastdl.optim.EarlyStopping``: stop training when a monitored metric stops improving."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Stop when ``metric`` has not improved for ``patience`` consecutive epochs.

    An epoch improves when ``metric < best − min_delta`` (``mode='min'``) or
    ``metric > best + min_delta`` (``mode='max'``). Each ``step(metric, model)`` returns True
    once training should stop. With ``restore_best_weights`` (default) the model's
    parameters and buffers at the best epoch are kept (copies) and loaded back into the
    model when stopping (or on ``restore(model)``). A NaN metric never improves.

    Example::

        stopper = fastdl.optim.EarlyStopping(patience=5, min_delta=1e-4)
        for epoch in range(100):
            train_one_epoch()
            if stopper.step(validate(), model):
                break               # model now holds the best epoch's weights
    """

    def __init__(self, patience=10, min_delta=0.0, mode="min", restore_best_weights=True):
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        if not (isinstance(patience, int) and patience >= 1):
            raise ValueError(f"EarlyStopping: patience must be an int >= 1, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta}")
        self.patience = patience
        self.min_delta = float(min_delta)
        self.mode = mode
        self.restore_best_weights = restore_best_weights
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = -1
        self.epoch = -1
        self.num_bad_epochs = 0
        self.should_stop = False
        self.best_state = None

    def _improves(self, m):
        if math.isnan(m):
            return False
        if self.mode == "min":
            return m < self.best - self.min_delta
        return m > self.best + self.min_delta

    def step(self, metric, model=None):
        """Record this epoch's ``metric``; returns True when training should stop."""
        m = float(metric)
        self.epoch += 1
        if self._improves(m):
            self.best = m
            self.best_epoch = self.epoch
            self.num_bad_epochs = 0
            if model is not None and self.restore_best_weights:
                self.best_state = {k: np.array(v._array, copy=True)
                                   for k, v in model.state_dict().items()}
        else:
            self.num_bad_epochs += 1
        if self.num_bad_epochs >= self.patience and not self.should_stop:
            self.should_stop = True
            if model is not None and self.restore_best_weights:
                self.restore(model)
        return self.should_stop

    __call__ = step

    def restore(self, model):
        """Load the best epoch's weights (if any were kept) into ``model``."""
        if self.best_state is not None:
            from ..tensor import Tensor
            model.load_state_dict({k: Tensor._make(v.copy()) for k, v in
                                   self.best_state.items()})

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items()}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
