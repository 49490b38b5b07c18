"""Callbacks of the estimators, with skorch's names and hooks: each method receives the
net and runs at its point of the training loop (``on_train_begin``, ``on_epoch_begin``,
``on_batch_begin``, ``on_batch_end``, ``on_epoch_end``, ``on_train_end``).

Example::

    net = NeuralNetClassifier(MLP, callbacks=[EarlyStopping(patience=3),
                                             LRScheduler("StepLR", step_size=5)])
"""
from __future__ import annotations

import inspect
import os
import time

import numpy as np

__all__ = ["StopTraining", "Callback", "EpochTimer", "PrintLog", "EpochScoring", "EarlyStopping",
           "LRScheduler", "Checkpoint", "ProgressBar", "OptunaPruning"]


class StopTraining(Exception):
    """Raised by a callback to end ``fit`` after the current epoch (EarlyStopping does)."""


class Callback:
    """Base class: override the hooks you need. ``get_params``/``set_params`` expose the
    constructor's arguments (so ``callbacks__<name>__<param>`` routing works)."""

    def initialize(self):
        return self

    def on_train_begin(self, net, X=None, y=None, **kw):
        pass

    def on_train_end(self, net, X=None, y=None, **kw):
        pass

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kw):
        pass

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kw):
        pass

    def on_batch_begin(self, net, batch=None, training=None, **kw):
        pass

    def on_batch_end(self, net, batch=None, training=None, **kw):
        pass

    def get_params(self, deep=True):
        names = [p for p in inspect.signature(type(self).__init__).parameters
                 if p not in ("self", "kwargs", "args")]
        out = {n: getattr(self, n) for n in names if hasattr(self, n)}
        out.update(getattr(self, "_extra_kwargs", {}))
        return out

    def set_params(self, **params):
        for k, v in params.items():
            setattr(self, k, v)
            if k in getattr(self, "_extra_kwargs", {}):
                self._extra_kwargs[k] = v
        return self


class EpochTimer(Callback):
    """Records each epoch's wall time in ``history[-1]['dur']`` (seconds)."""

    def on_epoch_begin(self, net, **kw):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, net, **kw):
        net.history.record("dur", time.perf_counter() - self._t0)


class PrintLog(Callback):
    """Prints one line per epoch (epoch, train_loss, valid_loss, valid_acc, dur) when the
    net's ``verbose`` is on; the best value so far is marked with ``*``."""

    def __init__(self, keys_ignored=None):
        self.keys_ignored = keys_ignored

    def on_epoch_end(self, net, **kw):
        if not net.verbose:
            return
        row = net.history[-1]
        ignored = set(self.keys_ignored or ()) | {"batches"}
        cols = [k for k in row if k not in ignored and not k.endswith("_best")]
        if row["epoch"] == 1:
            print("  ".join(f"{k:>10}" for k in cols))
        cells = []
        for k in cols:
            v = row[k]
            txt = f"{v:10.4f}" if isinstance(v, float) else f"{v!s:>10}"
            if row.get(f"{k}_best"):
                txt = txt[1:] + "*"
            cells.append(txt)
        print("  ".join(cells))


def _score(scoring, net, X, y, y_pred):
    if callable(scoring):
        return float(scoring(net, X, y))
    if scoring == "accuracy":
        return float(np.mean(np.asarray(y_pred).argmax(-1) == np.asarray(y)))
    from sklearn.metrics import get_scorer
    return float(get_scorer(scoring)(net, X, y))


class EpochScoring(Callback):
    """After each epoch, score the net on the validation set (or the training set with
    ``on_train=True``) and record it under ``name``, with ``<name>_best`` when it improved.
    ``scoring``: a name scikit-learn knows (``"accuracy"``, ``"f1_macro"``, ...) or a
    callable ``scoring(net, X, y)``.

    Example: ``EpochScoring("f1_macro", lower_is_better=False, name="valid_f1")``"""

    def __init__(self, scoring, lower_is_better=True, on_train=False, name=None):
        self.scoring, self.lower_is_better, self.on_train = scoring, lower_is_better, on_train
        self.name = name

    def initialize(self):
        self.best_score_ = np.inf if self.lower_is_better else -np.inf
        return self

    def _name(self):
        if self.name is not None:
            return self.name
        base = self.scoring if isinstance(self.scoring, str) else getattr(
            self.scoring, "__name__", "score")
        return f"{'train' if self.on_train else 'valid'}_{base}"

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kw):
        ds = dataset_train if self.on_train else dataset_valid
        if ds is None or len(ds) == 0:
            return
        from .dataset import _as_numpy
        y = np.asarray([_as_numpy(ds[i][1]) for i in range(len(ds))])
        if isinstance(self.scoring, str) and self.scoring == "accuracy":
            y_pred = net.predict_proba(ds)
            s = _score("accuracy", net, None, y, y_pred)
        else:
            s = _score(self.scoring, net, ds, y, None)
        better = s < self.best_score_ if self.lower_is_better else s > self.best_score_
        if better:
            self.best_score_ = s
        net.history.record(self._name(), s)
        net.history.record(f"{self._name()}_best", bool(better))


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``threshold`` (relative or
    absolute, ``threshold_mode``) for ``patience`` epochs; ``load_best=True`` restores the
    best epoch's parameters at the end.

    Example: ``EarlyStopping(monitor="valid_loss", patience=5)``"""

    def __init__(self, monitor="valid_loss", patience=5, threshold=1e-4,
                 threshold_mode="rel", lower_is_better=True, sink=print, load_best=False):
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"EarlyStopping: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        self.monitor, self.patience, self.threshold = monitor, patience, threshold
        self.threshold_mode, self.lower_is_better = threshold_mode, lower_is_better
        self.sink, self.load_best = sink, load_best

    def initialize(self):
        self.misses_ = 0
        self.dynamic_threshold_ = np.inf if self.lower_is_better else -np.inf
        self.best_epoch_ = 0
        self.best_state_ = None
        return self

    def on_train_begin(self, net, **kw):
        self.initialize()

    def _improved(self, score):
        t = self.dynamic_threshold_
        if self.lower_is_better:
            return score < t
        return score > t

    def on_epoch_end(self, net, **kw):
        score = net.history[-1, self.monitor]
        if self._improved(score):
            self.misses_ = 0
            if self.threshold_mode == "rel":
                f = 1 - self.threshold if self.lower_is_better else 1 + self.threshold
                self.dynamic_threshold_ = score * f
            else:
                self.dynamic_threshold_ = score + (-self.threshold if self.lower_is_better
                                                   else self.threshold)
            self.best_epoch_ = net.history[-1, "epoch"]
            if self.load_best:
                self.best_state_ = {k: v.detach().numpy().copy()
                                    for k, v in net.module_.state_dict().items()}
        else:
            self.misses_ += 1
        if self.misses_ >= self.patience:
            if net.verbose and self.sink is not None:
                self.sink(f"Stopping since {self.monitor} has not improved in the last "
                          f"{self.patience} epochs.")
            raise StopTraining(self.monitor)

    def on_train_end(self, net, **kw):
        if self.load_best and self.best_state_ is not None:
            from .. import tensor
            net.module_.load_state_dict({k: tensor(v) for k, v in self.best_state_.items()})


class LRScheduler(Callback):
    """Steps a ``fastdl.optim.lr_scheduler`` (a class, or its name as a string) once per
    epoch (``step_every="epoch"``) or batch; ``ReduceLROnPlateau`` is stepped with the
    ``monitor`` value.

    Example: ``LRScheduler("StepLR", step_size=10, gamma=0.5)``"""

    def __init__(self, policy="StepLR", monitor="train_loss", event_name="event_lr",
                 step_every="epoch", **kwargs):
        if step_every not in ("epoch", "batch"):
            raise ValueError(f"LRScheduler: step_every must be 'epoch' or 'batch', got "
                             f"{step_every!r}")
        self.policy, self.monitor, self.event_name = policy, monitor, event_name
        self.step_every = step_every
        self._extra_kwargs = dict(kwargs)
        for k, v in kwargs.items():
            setattr(self, k, v)

    def on_train_begin(self, net, **kw):
        from ..optim import lr_scheduler as lrs
        cls = getattr(lrs, self.policy) if isinstance(self.policy, str) else self.policy
        self.lr_scheduler_ = cls(net.optimizer_, **self._extra_kwargs)

    def _step(self, net):
        sch = self.lr_scheduler_
        if type(sch).__name__ == "ReduceLROnPlateau":
            sch.step(net.history[-1, self.monitor])
        else:
            sch.step()
        if self.event_name:
            net.history.record(self.event_name, net.optimizer_.param_groups[0]["lr"])

    def on_epoch_end(self, net, **kw):
        if self.step_every == "epoch":
            self._step(net)

    def on_batch_end(self, net, training=None, **kw):
        if training and self.step_every == "batch":
            self.lr_scheduler_.step()


class Checkpoint(Callback):
    """Save the parameters (and optionally the optimizer and history) whenever ``monitor``
    (a history key holding a bool, by default ``valid_loss_best``) is true, into
    ``dirname``; ``fn_prefix`` is prepended to each file name.

    Example: ``Checkpoint(dirname="ckpt", monitor="valid_acc_best")``"""

    def __init__(self, monitor="valid_loss_best", f_params="params.safetensors",
                 f_optimizer=None, f_history="history.json", dirname="", fn_prefix="",
                 load_best=False):
        self.monitor, self.f_params, self.f_optimizer = monitor, f_params, f_optimizer
        self.f_history, self.dirname, self.fn_prefix = f_history, dirname, fn_prefix
        self.load_best = load_best

    def _path(self, f):
        return None if f is None else os.path.join(self.dirname, self.fn_prefix + f)

    def on_epoch_end(self, net, **kw):
        row = net.history[-1]
        do = row.get(self.monitor, False) if isinstance(self.monitor, str) else \
            self.monitor(net)
        if not do:
            return
        if self.dirname:
            os.makedirs(self.dirname, exist_ok=True)
        net.save_params(f_params=self._path(self.f_params),
                        f_optimizer=self._path(self.f_optimizer),
                        f_history=self._path(self.f_history))
        net.history.record("event_cp", True)

    def on_train_end(self, net, **kw):
        if self.load_best and self.f_params and os.path.exists(self._path(self.f_params)):
            net.load_params(f_params=self._path(self.f_params))


class ProgressBar(Callback):
    """A tqdm progress bar over each epoch's batches (needs tqdm)."""

    def __init__(self, batches_per_epoch="auto", postfix_keys=("train_loss", "valid_loss")):
        self.batches_per_epoch, self.postfix_keys = batches_per_epoch, postfix_keys

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kw):
        from tqdm import tqdm
        n = 0
        for ds, bs in ((dataset_train, net.batch_size), (dataset_valid, net.batch_size)):
            if ds is not None:
                n += -(-len(ds) // bs)
        self.pbar_ = tqdm(total=n, leave=False, disable=not net.verbose)

    def on_batch_end(self, net, **kw):
        self.pbar_.update(1)

    def on_epoch_end(self, net, **kw):
        self.pbar_.close()


class OptunaPruning(Callback):
    """Report ``monitor`` to an Optuna ``trial`` after every epoch and end a trial Optuna
    decides to prune by raising ``optuna.TrialPruned`` (the study records it as pruned).

    Example: ``NeuralNetClassifier(MLP, callbacks=[OptunaPruning(trial)])``"""

    def __init__(self, trial, monitor="valid_loss"):
        self.trial, self.monitor = trial, monitor

    def on_epoch_end(self, net, **kw):
        import optuna
        epoch = net.history[-1, "epoch"]
        value = net.history[-1, self.monitor]
        self.trial.report(float(value), step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"trial pruned at epoch {epoch} "
                                     f"({self.monitor}={value:.6g})")
