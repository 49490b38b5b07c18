"""``NeuralNet``, ``NeuralNetClassifier``, ``NeuralNetRegressor``: a fastdl module wrapped as
a scikit-learn estimator, with skorch's constructor, defaults and double-underscore routing,
so ``cross_val_score``, ``GridSearchCV``, ``RandomizedSearchCV``, ``Pipeline`` and Optuna's
``OptunaSearchCV`` work on it unchanged.

Example::

    from sklearn.model_selection import GridSearchCV
    from fastdl.estimator import NeuralNetClassifier

    net = NeuralNetClassifier(MLP, criterion=fastdl.nn.CrossEntropyLoss, max_epochs=20,
                              lr=0.1, module__hidden=64, verbose=0)
    search = GridSearchCV(net, {"lr": [0.05, 0.1], "module__hidden": [32, 64]}, cv=3)
    search.fit(X.astype("float32"), y.astype("int64"))
"""
from __future__ import annotations

import inspect
import json

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from .. import nn, optim
from ..autograd import no_grad
from ..data import DataLoader
from .callbacks import Callback, EpochScoring, EpochTimer, PrintLog, StopTraining
from .dataset import ValidSplit, _as_numpy, to_dataset

__all__ = ["NeuralNet", "NeuralNetClassifier", "NeuralNetRegressor", "History"]

_PREFIXES = ("module", "criterion", "optimizer", "iterator_train", "iterator_valid",
             "callbacks", "dataset")


class History(list):
    """One dict per epoch (``epoch``, ``train_loss``, ``valid_loss``, ``dur``, scores, and
    ``batches``: one dict per batch). Indexing as skorch: ``history[-1, 'valid_loss']``,
    ``history[:, 'train_loss']`` (a list over epochs).

    Example: ``best = min(net.history[:, 'valid_loss'])``"""

    def new_epoch(self):
        self.append({"epoch": len(self) + 1, "batches": []})

    def new_batch(self):
        self[-1]["batches"].append({})

    def record(self, key, value):
        self[-1][key] = value

    def record_batch(self, key, value):
        self[-1]["batches"][-1][key] = value

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            return super().__getitem__(key)
        first, *rest = key
        rows = super().__getitem__(first)
        if isinstance(first, slice):
            return [self._pick(r, rest) for r in rows]
        return self._pick(rows, rest)

    @staticmethod
    def _pick(row, keys):
        for k in keys:
            if isinstance(row, list):
                row = [r[k] for r in row] if isinstance(k, str) else row[k]
            else:
                if k not in row:
                    raise KeyError(f"history has no key {k!r}; it has {sorted(row)}")
                row = row[k]
        return row


_BATCH_HOOKS = ("on_batch_begin", "on_batch_end")


def _loss_value(t):
    return float(t.item())


class NeuralNet(BaseEstimator):
    """A fastdl ``module`` trained by ``fit`` with ``criterion`` and ``optimizer``.

    Arguments (skorch's): ``module`` (an ``nn.Module`` class or instance), ``criterion``
    (class or instance), ``optimizer`` (class; default SGD), ``lr``, ``max_epochs``,
    ``batch_size``, ``iterator_train``/``iterator_valid`` (DataLoader classes),
    ``train_split`` (a callable ``(dataset, y) -> (train, valid)``, e.g. ``ValidSplit(5)``,
    or None), ``callbacks`` (a list of Callback or ``(name, Callback)``),
    ``predict_nonlinearity`` ("auto", None or a callable), ``warm_start``, ``verbose``,
    ``device`` ("cpu"). Any ``<prefix>__<name>=value`` keyword is routed: ``module__*`` to the
    module's constructor, ``optimizer__*``, ``criterion__*``, ``iterator_train__*``,
    ``iterator_valid__*``, ``callbacks__<callback name>__*``.

    Example: ``NeuralNet(MLP, nn.MSELoss, max_epochs=5).fit(X, y)``"""

    def __init__(self, module, criterion, optimizer=optim.SGD, lr=0.01, max_epochs=10,
                 batch_size=128, iterator_train=DataLoader, iterator_valid=DataLoader,
                 dataset=None, train_split=None, callbacks=None,
                 predict_nonlinearity="auto", warm_start=False, verbose=1, device="cpu",
                 **kwargs):
        self.module, self.criterion, self.optimizer = module, criterion, optimizer
        self.lr, self.max_epochs, self.batch_size = lr, max_epochs, batch_size
        self.iterator_train, self.iterator_valid = iterator_train, iterator_valid
        self.dataset, self.train_split, self.callbacks = dataset, train_split, callbacks
        self.predict_nonlinearity, self.warm_start = predict_nonlinearity, warm_start
        self.verbose, self.device = verbose, device
        if device not in ("cpu", None) and str(device) != "cpu":
            raise RuntimeError(f"NeuralNet: device {device!r} is not available; fastdl runs "
                               f"on the CPU")
        for k in kwargs:
            if "__" not in k or k.split("__", 1)[0] not in _PREFIXES:
                raise TypeError(f"NeuralNet.__init__() got an unexpected keyword argument "
                                f"{k!r}; routed arguments start with one of "
                                f"{[p + '__' for p in _PREFIXES]}")
        self._kwargs = dict(kwargs)
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.initialized_ = False

    # ---- scikit-learn parameter protocol ---------------------------------------------
    @classmethod
    def _init_names(cls):
        names = []
        for klass in cls.__mro__:
            if "__init__" in klass.__dict__:
                for p in inspect.signature(klass.__init__).parameters.values():
                    if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) \
                            and p.name not in names:
                        names.append(p.name)
        return names

    def get_params(self, deep=True):
        """Constructor arguments and routed ``prefix__name`` arguments (sklearn protocol)."""
        out = {n: getattr(self, n) for n in self._init_names()}
        out.update(self._kwargs)
        if deep and self.callbacks:
            for name, cb in self._named_callbacks(self.callbacks):
                for k, v in cb.get_params().items():
                    out[f"callbacks__{name}__{k}"] = v
        return out

    def set_params(self, **params):
        """Set constructor or routed arguments; a module/optimizer/criterion argument
        re-initialises that part before the next fit."""
        for k, v in params.items():
            if k.startswith("callbacks__") and k.count("__") >= 2:
                _, name, attr = k.split("__", 2)
                cbs = dict(self._named_callbacks(self.callbacks or []))
                if name not in cbs:
                    raise ValueError(f"set_params: no callback named {name!r}; callbacks are "
                                     f"{sorted(cbs)}")
                cbs[name].set_params(**{attr: v})
                continue
            if "__" in k:
                if k.split("__", 1)[0] not in _PREFIXES:
                    raise ValueError(f"set_params: invalid parameter {k!r} for {self!r}")
                self._kwargs[k] = v
            elif k not in self._init_names():
                raise ValueError(f"set_params: invalid parameter {k!r} for "
                                 f"{type(self).__name__}; valid ones are "
                                 f"{self._init_names()} and routed prefix__name arguments")
            setattr(self, k, v)
        if any(k.split("__", 1)[0] in ("module", "criterion", "optimizer", "lr")
               for k in params):
            self.initialized_ = False
        return self

    def __repr__(self):
        state = "initialized" if self.initialized_ else "uninitialized"
        mod = self.module if isinstance(self.module, type) else type(self.module)
        return f"<class '{type(self).__name__}'>[{state}](module={mod.__name__})"

    # ---- initialisation -------------------------------------------------------------
    def _routed(self, prefix):
        p = prefix + "__"
        return {k[len(p):]: v for k, v in self._kwargs.items()
                if k.startswith(p) and "__" not in k[len(p):]}

    @staticmethod
    def _named_callbacks(cbs):
        out, seen = [], {}
        for cb in cbs:
            if isinstance(cb, tuple):
                name, cb = cb
            else:
                name = type(cb).__name__ if not isinstance(cb, type) else cb.__name__
                if isinstance(cb, EpochScoring):
                    name = cb._name()
            if name in seen:
                raise ValueError(f"callbacks: two callbacks are named {name!r}; pass "
                                 f"(name, callback) tuples")
            seen[name] = True
            out.append((name, cb))
        return out

    def get_default_callbacks(self):
        return [("epoch_timer", EpochTimer()), ("print_log", PrintLog())]

    def initialize_module(self):
        kw = self._routed("module")
        if isinstance(self.module, nn.Module):
            if kw:
                raise ValueError(f"module__ arguments {sorted(kw)} need module to be a class, "
                                 f"not an instance")
            self.module_ = self.module
        else:
            self.module_ = self.module(**kw)
        return self

    def initialize_criterion(self):
        kw = self._routed("criterion")
        self.criterion_ = self.criterion if isinstance(self.criterion, nn.Module) else \
            self.criterion(**kw)
        return self

    def initialize_optimizer(self):
        kw = {"lr": self.lr, **self._routed("optimizer")}
        self.optimizer_ = self.optimizer(self.module_.parameters(), **kw)
        return self

    def initialize_callbacks(self):
        cbs = self.get_default_callbacks() + self._named_callbacks(self.callbacks or [])
        self.callbacks_ = []
        self.__dict__.pop("_batch_hooks", None)
        for name, cb in cbs:
            cb = cb() if isinstance(cb, type) else cb
            route = f"callbacks__{name}__"
            params = {k[len(route):]: v for k, v in self._kwargs.items()
                      if k.startswith(route)}
            if params:
                cb.set_params(**params)
            self.callbacks_.append((name, cb.initialize()))
        return self

    def initialize(self):
        """Build the module, criterion, optimizer, callbacks and an empty history."""
        self.initialize_module()
        self.initialize_criterion()
        self.initialize_optimizer()
        self.initialize_callbacks()
        self.history_ = History()
        self.initialized_ = True
        return self

    @property
    def history(self):
        return self.history_

    def notify(self, hook, **kw):
        """Call ``hook`` (``on_epoch_begin``, ``on_batch_end``, …) on every callback. The
        per-batch hooks skip callbacks that keep the base class's no-op."""
        if hook in _BATCH_HOOKS:
            cbs = self._batch_hooks.get(hook) if hasattr(self, "_batch_hooks") else None
            if cbs is None:
                cbs = [getattr(cb, hook) for _, cb in self.callbacks_
                       if getattr(type(cb), hook, None) is not getattr(Callback, hook)]
                self.__dict__.setdefault("_batch_hooks", {})[hook] = cbs
            for fn in cbs:
                fn(self, **kw)
            return
        for _, cb in self.callbacks_:
            getattr(cb, hook)(self, **kw)

    # ---- the training loop ------------------------------------------------------------
    def get_dataset(self, X, y=None):
        return to_dataset(X, y)

    def get_split_datasets(self, X, y=None):
        ds = self.get_dataset(X, y)
        if self.train_split is None:
            return ds, None
        return self.train_split(ds, y)

    def get_iterator(self, dataset, training=False):
        kw = self._routed("iterator_train" if training else "iterator_valid")
        kw.setdefault("batch_size", self.batch_size)
        if training:
            kw.setdefault("shuffle", True)
        cls = self.iterator_train if training else self.iterator_valid
        return cls(dataset, **kw)

    def _to_input(self, xb):
        return xb

    def infer(self, x):
        if isinstance(x, dict):
            return self.module_(**x)
        return self.module_(x)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred, y_true)

    def train_step(self, xb, yb):
        self.module_.train()
        self.optimizer_.zero_grad()
        y_pred = self.infer(xb)
        loss = self.get_loss(y_pred, yb, xb, training=True)
        loss.backward()
        self.optimizer_.step()
        return loss, y_pred

    def validation_step(self, xb, yb):
        self.module_.eval()
        with no_grad():
            y_pred = self.infer(xb)
            loss = self.get_loss(y_pred, yb, xb, training=False)
        return loss, y_pred

    def _run_epoch(self, ds, training):
        total, n = 0.0, 0
        for batch in self.get_iterator(ds, training=training):
            xb, yb = batch[0], batch[1]
            self.history_.new_batch()
            self.notify("on_batch_begin", batch=(xb, yb), training=training)
            loss, _ = (self.train_step if training else self.validation_step)(xb, yb)
            bs = len(yb)
            lv = _loss_value(loss)
            key = "train" if training else "valid"
            self.history_.record_batch(f"{key}_loss", lv)
            self.history_.record_batch(f"{key}_batch_size", bs)
            self.notify("on_batch_end", batch=(xb, yb), training=training)
            total += lv * bs
            n += bs
        return total / max(n, 1)

    def fit_loop(self, X, y=None, epochs=None):
        ds_train, ds_valid = self.get_split_datasets(X, y)
        epochs = self.max_epochs if epochs is None else epochs
        try:
            for _ in range(epochs):
                self.history_.new_epoch()
                self.notify("on_epoch_begin", dataset_train=ds_train, dataset_valid=ds_valid)
                tl = self._run_epoch(ds_train, True)
                self.history_.record("train_loss", tl)
                self._record_best("train_loss")
                if ds_valid is not None and len(ds_valid):
                    vl = self._run_epoch(ds_valid, False)
                    self.history_.record("valid_loss", vl)
                    self._record_best("valid_loss")
                self.notify("on_epoch_end", dataset_train=ds_train, dataset_valid=ds_valid)
        except StopTraining:
            pass
        return self

    def _record_best(self, key):
        vals = self.history_[:, key] if all(key in r for r in self.history_) else None
        if vals:
            self.history_.record(f"{key}_best", bool(vals[-1] <= min(vals)))

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train ``max_epochs`` more epochs without re-initialising."""
        if not self.initialized_:
            self.initialize()
        self.notify("on_train_begin", X=X, y=y)
        try:
            self.fit_loop(X, y)
        finally:
            self.notify("on_train_end", X=X, y=y)
        return self

    def fit(self, X, y=None, **fit_params):
        """Initialise (unless ``warm_start`` and already initialised) and train
        ``max_epochs`` epochs. ``X``: arrays, fastdl tensors, a dict of arrays or a Dataset;
        ``y``: the targets (None when X is a Dataset)."""
        if not self.warm_start or not self.initialized_:
            self.initialize()
        return self.partial_fit(X, y, **fit_params)

    # ---- inference --------------------------------------------------------------------
    def _nonlinearity(self):
        nl = self.predict_nonlinearity
        if nl is None:
            return lambda t: t
        if callable(nl):
            return nl
        if nl != "auto":
            raise ValueError(f"predict_nonlinearity must be 'auto', None or a callable, got "
                             f"{nl!r}")
        crit = self.criterion_
        if isinstance(crit, nn.CrossEntropyLoss):
            return lambda t: nn.functional.softmax(t, dim=-1)
        if isinstance(crit, nn.BCEWithLogitsLoss):
            return lambda t: t.sigmoid()
        return lambda t: t

    def forward_iter(self, X, training=False):
        ds = self.get_dataset(X)
        self.module_.train(training)
        with no_grad():
            for batch in self.get_iterator(ds, training=False):
                yield self.infer(batch[0])

    def forward(self, X, training=False):
        """The module's outputs for every sample, concatenated (a Tensor)."""
        from .. import cat
        return cat(list(self.forward_iter(X, training)), 0)

    def predict_proba(self, X):
        """The outputs after ``predict_nonlinearity``, as a NumPy array."""
        if not getattr(self, "initialized_", False):
            raise RuntimeError(f"This {type(self).__name__} instance is not initialized yet; "
                               f"call fit or initialize first")
        nl = self._nonlinearity()
        outs = [_as_numpy(nl(o)) for o in self.forward_iter(X)]
        return np.concatenate(outs, 0)

    def predict(self, X):
        return self.predict_proba(X)

    # ---- persistence ------------------------------------------------------------------
    def save_params(self, f_params=None, f_optimizer=None, f_criterion=None, f_history=None):
        """Save the module's (and optionally the optimizer's, criterion's) state dicts with
        ``fastdl.save`` and the history as JSON."""
        from .. import save
        if not self.initialized_:
            raise RuntimeError("save_params: the net is not initialized")
        if f_params:
            save(self.module_.state_dict(), f_params)
        if f_criterion:
            save(self.criterion_.state_dict(), f_criterion)
        if f_optimizer:
            _save_optimizer(self.optimizer_, f_optimizer)
        if f_history:
            with open(f_history, "w") as fh:
                json.dump(list(self.history_), fh)

    def load_params(self, f_params=None, f_optimizer=None, f_criterion=None, f_history=None):
        """Load what ``save_params`` wrote (initialising the net first if needed)."""
        from .. import load
        if not self.initialized_:
            self.initialize()
        if f_params:
            self.module_.load_state_dict(load(f_params))
        if f_criterion:
            self.criterion_.load_state_dict(load(f_criterion))
        if f_optimizer:
            _load_optimizer(self.optimizer_, f_optimizer)
        if f_history:
            with open(f_history) as fh:
                self.history_ = History(json.load(fh))


def _save_optimizer(opt, path):
    """Optimizer state through fastdl.save when it takes nested objects, else JSON+npz."""
    from .. import save
    save(opt.state_dict(), path)


def _load_optimizer(opt, path):
    from .. import load
    opt.load_state_dict(load(path))


class NeuralNetClassifier(ClassifierMixin, NeuralNet):
    """A classifier: ``criterion`` defaults to ``nn.NLLLoss`` on the module's probabilities
    (its log is taken, as skorch does) — pass ``criterion=nn.CrossEntropyLoss`` for a module
    that returns logits; ``train_split`` defaults to a stratified 5-fold split; the
    ``valid_acc`` score is recorded every epoch; ``predict`` returns the argmax class and
    ``score`` the accuracy.

    Example: ``NeuralNetClassifier(MLP, criterion=nn.CrossEntropyLoss, lr=0.1).fit(X, y)``"""

    def __init__(self, module, criterion=nn.NLLLoss, train_split=ValidSplit(5, stratified=True),
                 classes=None, **kwargs):
        super().__init__(module, criterion, train_split=train_split, **kwargs)
        self.classes = classes

    def get_default_callbacks(self):
        return [("epoch_timer", EpochTimer()),
                ("valid_acc", EpochScoring("accuracy", lower_is_better=False, name="valid_acc")),
                ("print_log", PrintLog())]

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if isinstance(self.criterion_, nn.NLLLoss):
            eps = float(np.finfo(np.float32).eps)
            y_pred = (y_pred + eps).log()
        return self.criterion_(y_pred, y_true)

    def fit(self, X, y=None, **fit_params):
        if y is not None:
            self.classes_ = np.unique(_as_numpy(y)) if self.classes is None else \
                np.asarray(self.classes)
        return super().fit(X, y, **fit_params)

    def predict(self, X):
        return self.predict_proba(X).argmax(axis=-1)


class NeuralNetRegressor(RegressorMixin, NeuralNet):
    """A regressor: ``criterion`` defaults to ``nn.MSELoss``, ``train_split`` to a 5-fold
    split; ``score`` is R².

    Example: ``NeuralNetRegressor(Net, max_epochs=20, lr=0.05).fit(X, y.reshape(-1, 1))``"""

    def __init__(self, module, criterion=nn.MSELoss, train_split=ValidSplit(5), **kwargs):
        super().__init__(module, criterion, train_split=train_split, **kwargs)


__all__ += ["Callback", "ValidSplit"]
