"""fastdl.metrics: metric objects with torchmetrics' API (``update``/``compute``/``reset``,
calling a metric returns the batch's value and accumulates), and their functional forms in
``fastdl.metrics.functional``.

The counting metrics keep only their sufficient statistics — per-class true/false positive
and negative counts (a C×C matrix for the confusion matrix) — so accumulating over many
batches costs one vectorised pass over the data. Curve metrics (AUROC, average precision,
ROC, precision-recall curve) keep the scores they were given, as exact curves need them.

Example::

    from fastdl.metrics import Accuracy, F1Score, MetricCollection
    metrics = MetricCollection({"acc": Accuracy(task="multiclass", num_classes=10),
                                "f1": F1Score(task="multiclass", num_classes=10,
                                              average="macro")})
    for x, y in loader:
        metrics.update(model(x), y)
    print(metrics.compute())        # {'acc': tensor(0.9812), 'f1': tensor(0.9809)}
"""
from __future__ import annotations

import copy

import numpy as np

from . import functional as F
from .functional import _check_average, _check_task

__all__ = ["Metric", "Accuracy", "Precision", "Recall", "F1Score", "FBetaScore",
           "ConfusionMatrix", "AUROC", "AveragePrecision", "ROC", "PrecisionRecallCurve",
           "MeanSquaredError", "MeanAbsoluteError", "R2Score", "MetricCollection",
           "functional"]


class Metric:
    """Base of every metric: state that ``update`` adds to, ``compute`` reads and ``reset``
    clears. ``metric(preds, target)`` updates the state and returns the value of that batch
    alone. Subclasses define ``_empty()`` (the initial state, a dict of arrays that add or
    lists that concatenate), ``_batch_state(preds, target)`` and ``_compute(state)``."""

    def __init__(self):
        self._state = self._empty()
        self._n_updates = 0

    # -- protocol
    def _empty(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _batch_state(self, preds, target):  # pragma: no cover - abstract
        raise NotImplementedError

    def _compute(self, state):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _merge(a, b):
        out = {}
        for k in a:
            out[k] = a[k] + b[k] if isinstance(a[k], list) else np.add(a[k], b[k])
        return out

    # -- public API
    def update(self, preds, target) -> None:
        """Add a batch to the state."""
        self._state = self._merge(self._state, self._batch_state(preds, target))
        self._n_updates += 1

    def compute(self):
        """The metric over everything passed to ``update`` since the last ``reset``."""
        if self._n_updates == 0:
            raise RuntimeError(f"{type(self).__name__}.compute() was called before any "
                               f"update()")
        return self._compute(self._state)

    def reset(self) -> None:
        """Forget every batch seen."""
        self._state = self._empty()
        self._n_updates = 0

    def forward(self, preds, target):
        """Update with the batch and return the metric of the batch alone."""
        batch = self._batch_state(preds, target)
        self._state = self._merge(self._state, batch)
        self._n_updates += 1
        return self._compute(batch)

    __call__ = forward

    def clone(self):
        """A deep copy (same configuration and state)."""
        return copy.deepcopy(self)

    def plot(self, val=None, ax=None):
        """Plot the computed value (or ``val``) with matplotlib; returns ``(fig, ax)``."""
        try:
            import matplotlib
            matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError as e:  # pragma: no cover - optional dependency
            raise ImportError("Metric.plot needs matplotlib (pip install matplotlib)") from e
        val = self.compute() if val is None else val
        if ax is None:
            fig, ax = plt.subplots()
        else:
            fig = ax.get_figure()
        self._plot(ax, val)
        return fig, ax

    def _plot(self, ax, val):
        v = np.atleast_1d(val.numpy() if hasattr(val, "numpy") else np.asarray(val))
        ax.plot(np.arange(v.size), v, "o")
        ax.set_xticks(np.arange(v.size))
        ax.set_title(type(self).__name__)
        ax.set_ylabel("value")
        ax.set_xlabel("class" if v.size > 1 else "")

    def __repr__(self):
        return f"{type(self).__name__}()"


class _Counting(Metric):
    kind = "accuracy"
    _default_average = "micro"

    def __init__(self, task, threshold=0.5, num_classes=None, num_labels=None, average="micro",
                 multidim_average="global", top_k=1, ignore_index=None, validate_args=True,
                 zero_division=0, beta=1.0):
        _check_task(task, num_classes, num_labels)
        _check_average(average)
        if multidim_average != "global":
            raise ValueError(f"multidim_average={multidim_average!r} is not supported; use "
                             f"'global'")
        if task == "multiclass" and top_k is not None and not (
                isinstance(top_k, int) and 1 <= top_k <= num_classes):
            raise ValueError(f"top_k must be an int in [1, num_classes={num_classes}], "
                             f"got {top_k!r}")
        self.task, self.threshold = task, threshold
        self.num_classes, self.num_labels = num_classes, num_labels
        self.average, self.top_k = average, 1 if top_k is None else top_k
        self.ignore_index, self.zero_division, self.beta = ignore_index, zero_division, beta
        super().__init__()

    def _empty(self):
        k = () if self.task == "binary" else (
            self.num_classes if self.task == "multiclass" else self.num_labels,)
        z = np.zeros(k, np.int64)
        return {"tp": z, "fp": z.copy(), "tn": z.copy(), "fn": z.copy()}

    def _batch_state(self, preds, target):
        tp, fp, tn, fn = F._stat_scores(preds, target, self.task, self.threshold,
                                        self.num_classes, self.num_labels, self.top_k,
                                        self.ignore_index)
        return {"tp": tp, "fp": fp, "tn": tn, "fn": fn}

    def _compute(self, s):
        v = F._reduce(self.kind, (s["tp"], s["fp"], s["tn"], s["fn"]), self.task,
                      self.average, self.top_k, self.beta, self.zero_division)
        return F._out(v)

    def __repr__(self):
        return (f"{type(self).__name__}(task={self.task!r}, num_classes={self.num_classes}, "
                f"average={self.average!r})")


class Accuracy(_Counting):
    """Accuracy (see ``functional.accuracy``), accumulated over batches.

    Example: ``acc = Accuracy(task="multiclass", num_classes=10); acc(logits, y)``"""

    kind = "accuracy"


class Precision(_Counting):
    """Precision TP / (TP + FP) (see ``functional.precision``).

    Example: ``Precision(task="multiclass", num_classes=3, average="macro")``"""

    kind = "precision"


class Recall(_Counting):
    """Recall TP / (TP + FN) (see ``functional.recall``).

    Example: ``Recall(task="binary")``"""

    kind = "recall"


class FBetaScore(_Counting):
    """F-beta score (see ``functional.fbeta_score``).

    Example: ``FBetaScore(task="binary", beta=0.5)``"""

    kind = "fbeta"

    def __init__(self, task, beta=1.0, threshold=0.5, num_classes=None, num_labels=None,
                 average="micro", multidim_average="global", top_k=1, ignore_index=None,
                 validate_args=True, zero_division=0):
        if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not beta > 0:
            raise ValueError(f"beta must be a float larger than 0, got {beta!r}")
        super().__init__(task, threshold, num_classes, num_labels, average, multidim_average,
                         top_k, ignore_index, validate_args, zero_division, float(beta))


class F1Score(FBetaScore):
    """F1 score 2·TP / (2·TP + FP + FN) (see ``functional.f1_score``).

    Example: ``F1Score(task="multiclass", num_classes=5, average="weighted")``"""

    def __init__(self, task, threshold=0.5, num_classes=None, num_labels=None, average="micro",
                 multidim_average="global", top_k=1, ignore_index=None, validate_args=True,
                 zero_division=0):
        super().__init__(task, 1.0, threshold, num_classes, num_labels, average,
                         multidim_average, top_k, ignore_index, validate_args, zero_division)


class ConfusionMatrix(Metric):
    """Confusion matrix (see ``functional.confusion_matrix``); ``plot()`` draws a heat map.

    Example: ``cm = ConfusionMatrix(task="multiclass", num_classes=3); cm(preds, y)``"""

    def __init__(self, task, threshold=0.5, num_classes=None, num_labels=None, normalize=None,
                 ignore_index=None, validate_args=True):
        _check_task(task, num_classes, num_labels)
        if normalize not in ("true", "pred", "all", "none", None):
            raise ValueError(f"normalize must be 'true', 'pred', 'all', 'none' or None, "
                             f"got {normalize!r}")
        self.task, self.threshold, self.normalize = task, threshold, normalize
        self.num_classes, self.num_labels, self.ignore_index = num_classes, num_labels, \
            ignore_index
        super().__init__()

    def _empty(self):
        if self.task == "multiclass":
            return {"cm": np.zeros((self.num_classes, self.num_classes), np.int64)}
        if self.task == "multilabel":
            return {"cm": np.zeros((self.num_labels, 2, 2), np.int64)}
        return {"cm": np.zeros((2, 2), np.int64)}

    def _batch_state(self, preds, target):
        return {"cm": F._confmat_counts(preds, target, self.task, self.threshold,
                                        self.num_classes, self.num_labels, self.ignore_index)}

    def _compute(self, s):
        if self.normalize in (None, "none"):
            return F._out(s["cm"], np.int64)
        return F._out(F._normalize_confmat(s["cm"], self.normalize))

    def _plot(self, ax, val):
        m = val.numpy() if hasattr(val, "numpy") else np.asarray(val)
        m = m if m.ndim == 2 else m.sum(0)
        im = ax.imshow(m, cmap="Blues")
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{v:.2f}" if m.dtype.kind == "f" else str(v), ha="center",
                    va="center", fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title("ConfusionMatrix")
        ax.get_figure().colorbar(im, ax=ax)


class _Curve(Metric):
    def __init__(self, task, thresholds=None, num_classes=None, num_labels=None,
                 ignore_index=None, validate_args=True, average=None, max_fpr=None):
        _check_task(task, num_classes, num_labels)
        F._thresholds_arg(thresholds)
        self.task, self.thresholds = task, thresholds
        self.num_classes, self.num_labels, self.ignore_index = num_classes, num_labels, \
            ignore_index
        self.average, self.max_fpr = average, max_fpr
        super().__init__()

    def _empty(self):
        return {"scores": [], "labels": []}

    def _batch_state(self, preds, target):
        s, y = F._curve_inputs(preds, target, self.task, self.num_classes, self.num_labels,
                               self.ignore_index)
        return {"scores": [s], "labels": [y]}

    def _args(self, s):
        scores = np.concatenate(s["scores"]) if s["scores"] else np.zeros(0, np.float32)
        labels = np.concatenate(s["labels"]) if s["labels"] else np.zeros(0, np.int64)
        # the scores are normalised already; hand them to the functional form as they are
        return F._out(scores, scores.dtype), F._out(labels, np.int64)


class AUROC(_Curve):
    """Area under the ROC curve (see ``functional.auroc``).

    Example: ``AUROC(task="multiclass", num_classes=4, average="weighted")``"""

    def __init__(self, task, thresholds=None, num_classes=None, num_labels=None,
                 average="macro", max_fpr=None, ignore_index=None, validate_args=True):
        _check_average(average, ("macro", "weighted", "none", None))
        super().__init__(task, thresholds, num_classes, num_labels, ignore_index,
                         validate_args, average, max_fpr)

    def _compute(self, s):
        p, y = self._args(s)
        return F.auroc(p, y, self.task, self.thresholds, self.num_classes, self.num_labels,
                       self.average, self.max_fpr)


class AveragePrecision(_Curve):
    """Average precision (see ``functional.average_precision``).

    Example: ``AveragePrecision(task="binary")``"""

    def __init__(self, task, thresholds=None, num_classes=None, num_labels=None,
                 average="macro", ignore_index=None, validate_args=True):
        _check_average(average, ("macro", "weighted", "none", None))
        super().__init__(task, thresholds, num_classes, num_labels, ignore_index,
                         validate_args, average)

    def _compute(self, s):
        p, y = self._args(s)
        return F.average_precision(p, y, self.task, self.thresholds, self.num_classes,
                                   self.num_labels, self.average)


class ROC(_Curve):
    """ROC curve ``(fpr, tpr, thresholds)`` (see ``functional.roc``).

    Example: ``fpr, tpr, thr = ROC(task="binary")(scores, labels)``"""

    def _compute(self, s):
        p, y = self._args(s)
        return F.roc(p, y, self.task, self.thresholds, self.num_classes, self.num_labels)

    def _plot(self, ax, val):
        _plot_curves(ax, val[0], val[1], "false positive rate", "true positive rate", "ROC")


class PrecisionRecallCurve(_Curve):
    """Precision-recall curve ``(precision, recall, thresholds)``.

    Example: ``p, r, t = PrecisionRecallCurve(task="binary")(scores, labels)``"""

    def _compute(self, s):
        p, y = self._args(s)
        return F.precision_recall_curve(p, y, self.task, self.thresholds, self.num_classes,
                                        self.num_labels)

    def _plot(self, ax, val):
        _plot_curves(ax, val[1], val[0], "recall", "precision", "PrecisionRecallCurve")


def _plot_curves(ax, xs, ys, xlabel, ylabel, title):
    xs = xs if isinstance(xs, list) else ([xs] if xs.ndim == 1 else list(xs))
    ys = ys if isinstance(ys, list) else ([ys] if ys.ndim == 1 else list(ys))
    for k, (x, y) in enumerate(zip(xs, ys)):
        ax.plot(np.asarray(x.numpy() if hasattr(x, "numpy") else x),
                np.asarray(y.numpy() if hasattr(y, "numpy") else y),
                label=f"class {k}" if len(xs) > 1 else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(xs) > 1:
        ax.legend()


def _empty_mean_state(self):
    return {"sum": np.zeros(self.num_outputs if self.num_outputs > 1 else ()),
            "n": np.int64(0)}


def _mean_state(num_outputs, err, preds, target):
    """Running sum of ``err(preds, target)`` (per output) and the sample count."""
    p, t = F._pair(preds, target)
    d = err(p, t).reshape(-1, num_outputs)
    return {"sum": d.sum(0) if num_outputs > 1 else d.sum(), "n": np.int64(d.shape[0])}


class MeanSquaredError(Metric):
    """Mean squared error over every batch; root mean squared error with ``squared=False``.

    Example: ``mse = MeanSquaredError(); mse(pred, y); mse.compute()``"""

    def __init__(self, squared=True, num_outputs=1):
        self.squared, self.num_outputs = squared, num_outputs
        super().__init__()

    _empty = _empty_mean_state

    def _batch_state(self, preds, target):
        return _mean_state(self.num_outputs, lambda p, t: (p - t) ** 2, preds, target)

    def _compute(self, s):
        m = F._safe_div(s["sum"], s["n"], np.nan)
        return F._out(m if self.squared else np.sqrt(m))


class MeanAbsoluteError(Metric):
    """Mean absolute error over every batch.

    Example: ``MeanAbsoluteError()(pred, y)``"""

    def __init__(self, num_outputs=1):
        self.num_outputs = num_outputs
        super().__init__()

    _empty = _empty_mean_state

    def _batch_state(self, preds, target):
        return _mean_state(self.num_outputs, lambda p, t: np.abs(p - t), preds, target)

    def _compute(self, s):
        return F._out(F._safe_div(s["sum"], s["n"], np.nan))


class R2Score(Metric):
    """Coefficient of determination over every batch (see ``functional.r2_score``), from
    running sums Σy, Σy², Σ(y − ŷ)² and n.

    Example: ``R2Score()(pred, y)``"""

    def __init__(self, num_outputs=1, adjusted=0, multioutput="uniform_average"):
        if multioutput not in ("raw_values", "uniform_average", "variance_weighted"):
            raise ValueError(f"multioutput must be 'raw_values', 'uniform_average' or "
                             f"'variance_weighted', got {multioutput!r}")
        if not isinstance(adjusted, int) or adjusted < 0:
            raise ValueError(f"adjusted must be a non-negative int, got {adjusted!r}")
        self.num_outputs, self.adjusted, self.multioutput = num_outputs, adjusted, multioutput
        super().__init__()

    def _empty(self):
        z = np.zeros(self.num_outputs if self.num_outputs > 1 else ())
        return {"s_y": z, "s_yy": z.copy(), "s_res": z.copy(), "n": np.int64(0)}

    def _batch_state(self, preds, target):
        p, t = F._pair(preds, target)
        if self.num_outputs > 1 and (t.ndim != 2 or t.shape[1] != self.num_outputs):
            raise ValueError(f"R2Score(num_outputs={self.num_outputs}) expects (N, "
                             f"{self.num_outputs}) inputs, got {t.shape}")
        return {"s_y": t.sum(0), "s_yy": (t * t).sum(0), "s_res": ((t - p) ** 2).sum(0),
                "n": np.int64(t.shape[0])}

    def _compute(self, s):
        return F._out(F._r2_from_sums(s["s_y"], s["s_yy"], s["s_res"], int(s["n"]),
                                      self.adjusted, self.multioutput))


class MetricCollection:
    """Several metrics updated together: a list (keyed by class name) or a dict of metrics;
    ``compute()`` and calling return a dict, keys with ``prefix``/``postfix`` added.

    Example: ``MetricCollection([Accuracy(task="binary"), Precision(task="binary")],
    prefix="val_")``"""

    def __init__(self, metrics, *additional_metrics, prefix=None, postfix=None):
        if isinstance(metrics, Metric):
            metrics = [metrics, *additional_metrics]
        elif additional_metrics:
            raise ValueError("additional metrics are only accepted after a single Metric")
        if isinstance(metrics, dict):
            items = list(metrics.items())
        else:
            items = [(type(m).__name__, m) for m in metrics]
        self._metrics = {}
        for k, m in items:
            if not isinstance(m, (Metric, MetricCollection)):
                raise TypeError(f"MetricCollection: {k!r} is a {type(m).__name__}, not a "
                                f"Metric")
            if k in self._metrics:
                raise ValueError(f"MetricCollection: two metrics named {k!r}")
            self._metrics[k] = m
        self.prefix, self.postfix = prefix or "", postfix or ""

    def _key(self, k):
        return f"{self.prefix}{k}{self.postfix}"

    def update(self, *args, **kwargs):
        """Update every metric with the same batch."""
        for m in self._metrics.values():
            m.update(*args, **kwargs)

    def compute(self):
        """``{name: value}`` for every metric."""
        return {self._key(k): m.compute() for k, m in self._metrics.items()}

    def forward(self, *args, **kwargs):
        """Update every metric and return each one's value on this batch."""
        return {self._key(k): m(*args, **kwargs) for k, m in self._metrics.items()}

    __call__ = forward

    def reset(self):
        """Reset every metric."""
        for m in self._metrics.values():
            m.reset()

    def clone(self, prefix=None, postfix=None):
        """A deep copy, optionally with a new prefix/postfix."""
        c = copy.deepcopy(self)
        if prefix is not None:
            c.prefix = prefix
        if postfix is not None:
            c.postfix = postfix
        return c

    def __getitem__(self, k):
        return self._metrics[k]

    def __len__(self):
        return len(self._metrics)

    def __iter__(self):
        return iter(self._metrics)

    def keys(self):
        return self._metrics.keys()

    def values(self):
        return self._metrics.values()

    def items(self):
        return self._metrics.items()
