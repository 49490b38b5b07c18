"""Functional metrics with torchmetrics' names, arguments and reading of inputs.

Counting metrics (accuracy, precision, recall, F-scores, confusion matrix) reduce a batch to
its sufficient statistics — per-class true/false positives and negatives — in one vectorised
pass (``np.bincount`` over ``target * C + pred``), so the class metrics in
``fastdl.metrics`` accumulate over any number of batches for the cost of one pass over the
data. Curve metrics (ROC, precision-recall, AUROC, average precision) are exact when
``thresholds=None`` (every distinct score is a threshold) and binned otherwise.

How predictions are read (as torchmetrics reads them):

* ``task="binary"``: ``preds`` float of any shape — a sigmoid is applied when some value lies
  outside [0, 1] — then ``> threshold``; or integer labels. ``target`` holds 0/1.
* ``task="multiclass"``: ``preds`` ``(N, C, ...)`` scores (argmax, or the top ``top_k``) or
  ``(N, ...)`` labels; ``target`` ``(N, ...)`` labels.
* ``task="multilabel"``: ``preds`` ``(N, L, ...)`` scores or 0/1 labels; ``target`` the same shape.

``ignore_index`` drops every target element equal to it. Only ``multidim_average="global"``
is supported (extra dimensions are flattened into the batch).

Example::

    from fastdl.metrics.functional import accuracy
    accuracy(fastdl.tensor([[2.0, 0.1], [0.2, 0.9]]), fastdl.tensor([0, 0]),
             task="multiclass", num_classes=2)          # tensor(0.5000)
"""
from __future__ import annotations

import numpy as np

_TASKS = ("binary", "multiclass", "multilabel")
_AVERAGES = ("micro", "macro", "weighted", "none", None)


def _np(x, name):
    """A NumPy view of a fastdl Tensor, array or sequence."""
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.detach().numpy() if hasattr(x, "detach") else x.numpy()
    try:
        return np.asarray(x)
    except Exception as e:  # noqa: BLE001
        raise TypeError(f"{name} must be a tensor or array, got {type(x).__name__}") from e


def _out(a, dtype=np.float32):
    from .. import tensor
    return tensor(np.asarray(a, dtype=dtype))


def _check_task(task, num_classes, num_labels):
    if task not in _TASKS:
        raise ValueError(f"task must be one of {_TASKS}, got {task!r}")
    if task == "multiclass" and (not isinstance(num_classes, int) or isinstance(num_classes, bool)
                                 or num_classes < 2):
        raise ValueError(f"num_classes must be an int >= 2 for task='multiclass', "
                         f"got {num_classes!r}")
    if task == "multilabel" and (not isinstance(num_labels, int) or isinstance(num_labels, bool)
                                 or num_labels < 1):
        raise ValueError(f"num_labels must be an int >= 1 for task='multilabel', "
                         f"got {num_labels!r}")


def _check_average(average, allowed=_AVERAGES):
    if average not in allowed:
        raise ValueError(f"average must be one of {allowed}, got {average!r}")


def _is_float(a):
    return a.dtype.kind == "f" or a.dtype.name == "bfloat16"


def _sigmoid_if_logits(p):
    p = p.astype(np.float32) if p.dtype.itemsize < 4 else p
    if p.size and not np.all((p >= 0) & (p <= 1)):
        with np.errstate(over="ignore"):
            p = (1 / (1 + np.exp(-p))).astype(p.dtype)
    return p


def _softmax_if_logits(p):
    if p.size and not np.all((p >= 0) & (p <= 1)):
        e = np.exp(p - p.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    return p


def _check_target_values(t, allowed_max, ignore_index, name="target"):
    if t.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integer labels, got dtype {t.dtype}")
    v = t if ignore_index is None else t[t != ignore_index]
    if v.size and (v.min() < 0 or v.max() > allowed_max):
        raise RuntimeError(f"{name} holds values outside [0, {allowed_max}]"
                           f"{'' if ignore_index is None else f' (ignore_index={ignore_index})'}: "
                           f"found {int(v.min())}..{int(v.max())}")


# ---------------------------------------------------------------------------------------
# sufficient statistics: tp, fp, tn, fn per class (or one each for binary)


def _stat_scores(preds, target, task, threshold=0.5, num_classes=None, num_labels=None,
                 top_k=1, ignore_index=None):
    """(tp, fp, tn, fn) as int64 arrays: shape () for binary, (C,) multiclass, (L,)
    multilabel."""
    _check_task(task, num_classes, num_labels)
    p, t = _np(preds, "preds"), _np(target, "target")
    if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a float in [0, 1], got {threshold!r}")
    if task == "binary":
        if p.shape != t.shape:
            raise ValueError(f"preds and target must have the same shape for task='binary', "
                             f"got {p.shape} and {t.shape}")
        _check_target_values(t, 1, ignore_index)
        p = (_sigmoid_if_logits(p) > threshold) if _is_float(p) else p.astype(bool)
        keep = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
        pb, tb = p[keep].astype(bool), t[keep].astype(bool)
        tp = np.count_nonzero(pb & tb)
        fp = np.count_nonzero(pb & ~tb)
        fn = np.count_nonzero(~pb & tb)
        tn = pb.size - tp - fp - fn
        return tuple(np.int64(v) for v in (tp, fp, tn, fn))
    if task == "multilabel":
        if p.shape != t.shape or p.ndim < 2 or p.shape[1] != num_labels:
            raise ValueError(f"preds and target must both have shape (N, {num_labels}, ...) for "
                             f"task='multilabel', got {p.shape} and {t.shape}")
        _check_target_values(t, 1, ignore_index)
        p = (_sigmoid_if_logits(p) > threshold) if _is_float(p) else p.astype(bool)
        p = np.moveaxis(p, 1, -1).reshape(-1, num_labels)
        t = np.moveaxis(t, 1, -1).reshape(-1, num_labels)
        keep = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
        tb = t == 1
        tp = np.count_nonzero(p & tb & keep, axis=0)
        fp = np.count_nonzero(p & ~tb & keep, axis=0)
        fn = np.count_nonzero(~p & tb & keep, axis=0)
        tn = np.count_nonzero(keep, axis=0) - tp - fp - fn
        return tuple(np.asarray(v, np.int64) for v in (tp, fp, tn, fn))
    cm = _multiclass_confmat(p, t, num_classes, top_k, ignore_index)
    tp = np.diag(cm).copy()
    fp = cm.sum(0) - tp
    fn = cm.sum(1) - tp
    tn = cm.sum() - tp - fp - fn
    return tuple(np.asarray(v, np.int64) for v in (tp, fp, tn, fn))


def _multiclass_confmat(p, t, C, top_k=1, ignore_index=None):
    """C×C counts ``cm[true, predicted]`` from scores ``(N, C, ...)`` or labels ``(N, ...)``."""
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= C:
        raise ValueError(f"top_k must be an int in [1, num_classes={C}], got {top_k!r}")
    if p.ndim == t.ndim + 1:
        if p.shape[1] != C or p.shape[:1] + p.shape[2:] != t.shape:
            raise ValueError(f"preds of shape {p.shape} must be (N, {C}, ...) matching target "
                             f"{t.shape}")
        scores = np.moveaxis(p, 1, -1).reshape(-1, C)
        t = t.reshape(-1)
        _check_target_values(t, C - 1, ignore_index)
        if ignore_index is not None:
            keep = t != ignore_index
            scores, t = scores[keep], t[keep]
        if top_k == 1:
            pred = scores.argmax(axis=1)
        else:  # torchmetrics: the target when it is among the top k, else the top-1 class
            part = np.argpartition(-scores, top_k - 1, axis=1)[:, :top_k]
            hit = (part == t[:, None]).any(axis=1)
            pred = np.where(hit, t, scores.argmax(axis=1))
    elif p.shape == t.shape:
        if top_k != 1:
            raise ValueError("top_k > 1 needs preds of scores with a class dimension, "
                             f"got labels of shape {p.shape}")
        if p.dtype.kind not in "iub":
            raise TypeError(f"preds of the same shape as target must be integer labels, got "
                            f"dtype {p.dtype}")
        pred, t = p.reshape(-1), t.reshape(-1)
        _check_target_values(t, C - 1, ignore_index)
        if ignore_index is not None:
            keep = t != ignore_index
            pred, t = pred[keep], t[keep]
        _check_target_values(pred, C - 1, None, "preds")
    else:
        raise ValueError(f"preds must have shape (N, ...) or (N, C, ...) for target (N, ...), "
                         f"got preds {p.shape} and target {t.shape}")
    return np.bincount(t.astype(np.int64) * C + pred.astype(np.int64),
                       minlength=C * C).reshape(C, C)


def _safe_div(num, den, zero_division=0.0):
    num = np.asarray(num, np.float64)
    den = np.asarray(den, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den == 0, zero_division, num / np.where(den == 0, 1, den))


def _weighted(score, average, multilabel, tp, fp, fn, top_k=1):
    if average in (None, "none"):
        return score
    if average == "weighted":
        w = (tp + fn).astype(np.float64)
    else:
        w = np.ones_like(score, dtype=np.float64)
        if not multilabel:
            w[(tp + fp + fn == 0) if top_k == 1 else (tp + fn == 0)] = 0.0
    return (_safe_div(w * score, w.sum())).sum()


def _reduce(kind, stats, task, average, top_k=1, beta=1.0, zero_division=0.0):
    tp, fp, tn, fn = stats
    if task == "binary":
        if kind == "accuracy":
            return _safe_div(tp + tn, tp + tn + fp + fn)
        other = fp if kind == "precision" else fn
        if kind in ("precision", "recall"):
            return _safe_div(tp, tp + other, zero_division)
        b2 = beta * beta
        return _safe_div((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp, zero_division)
    multilabel = task == "multilabel"
    if average == "micro":
        stp, sfp, stn, sfn = tp.sum(), fp.sum(), tn.sum(), fn.sum()
        if kind == "accuracy":
            if multilabel:
                return _safe_div(stp + stn, stp + stn + sfp + sfn)
            return _safe_div(stp, stp + sfn)
        if kind == "precision":
            return _safe_div(stp, stp + sfp, zero_division)
        if kind == "recall":
            return _safe_div(stp, stp + sfn, zero_division)
        b2 = beta * beta
        return _safe_div((1 + b2) * stp, (1 + b2) * stp + b2 * sfn + sfp, zero_division)
    if kind == "accuracy":
        score = _safe_div(tp + tn, tp + tn + fp + fn) if multilabel else _safe_div(tp, tp + fn)
        return _weighted(score, average, multilabel, tp, fp, fn, top_k)
    if kind == "precision":
        return _weighted(_safe_div(tp, tp + fp, zero_division), average, multilabel, tp, fp, fn,
                         top_k)
    if kind == "recall":
        return _weighted(_safe_div(tp, tp + fn, zero_division), average, multilabel, tp, fp, fn,
                         top_k)
    b2 = beta * beta
    score = _safe_div((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp, zero_division)
    return _weighted(score, average, multilabel, tp, fp, fn)


def _counting(kind, preds, target, task, threshold, num_classes, num_labels, average, top_k,
              ignore_index, multidim_average, beta=1.0, zero_division=0.0):
    _check_average(average)
    if multidim_average != "global":
        raise ValueError(f"multidim_average={multidim_average!r} is not supported; use 'global'")
    top_k = 1 if top_k is None else top_k
    stats = _stat_scores(preds, target, task, threshold, num_classes, num_labels, top_k,
                         ignore_index)
    return _out(_reduce(kind, stats, task, average, top_k, beta, zero_division))


def accuracy(preds, target, task, threshold=0.5, num_classes=None, num_labels=None,
             average="micro", multidim_average="global", top_k=1, ignore_index=None,
             validate_args=True):
    """Accuracy. Binary: (TP + TN) / all; multiclass ``micro``: correct / all;
    ``macro``/``weighted``/``none``: per-class recall TP / (TP + FN), averaged over classes
    that occur (macro) or by support (weighted); multilabel: per-label (TP + TN) / all.

    Example: ``accuracy(preds, target, task="multiclass", num_classes=10, top_k=5)``"""
    return _counting("accuracy", preds, target, task, threshold, num_classes, num_labels,
                     average, top_k, ignore_index, multidim_average)


def precision(preds, target, task, threshold=0.5, num_classes=None, num_labels=None,
              average="micro", multidim_average="global", top_k=1, ignore_index=None,
              validate_args=True, zero_division=0):
    """Precision TP / (TP + FP), per class then reduced by ``average`` (see ``accuracy``);
    an empty denominator gives ``zero_division``.

    Example: ``precision(preds, target, task="binary")``"""
    return _counting("precision", preds, target, task, threshold, num_classes, num_labels,
                     average, top_k, ignore_index, multidim_average,
                     zero_division=zero_division)


def recall(preds, target, task, threshold=0.5, num_classes=None, num_labels=None,
           average="micro", multidim_average="global", top_k=1, ignore_index=None,
           validate_args=True, zero_division=0):
    """Recall TP / (TP + FN), per class then reduced by ``average``.

    Example: ``recall(preds, target, task="multiclass", num_classes=3, average="macro")``"""
    return _counting("recall", preds, target, task, threshold, num_classes, num_labels,
                     average, top_k, ignore_index, multidim_average,
                     zero_division=zero_division)


def fbeta_score(preds, target, task, beta=1.0, threshold=0.5, num_classes=None,
                num_labels=None, average="micro", multidim_average="global", top_k=1,
                ignore_index=None, validate_args=True, zero_division=0):
    """F-beta (1 + β²)·TP / ((1 + β²)·TP + β²·FN + FP), per class then reduced by ``average``.

    Example: ``fbeta_score(preds, target, task="binary", beta=2.0)``"""
    if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not beta > 0:
        raise ValueError(f"beta must be a float larger than 0, got {beta!r}")
    return _counting("fbeta", preds, target, task, threshold, num_classes, num_labels, average,
                     top_k, ignore_index, multidim_average, beta=float(beta),
                     zero_division=zero_division)


def f1_score(preds, target, task, threshold=0.5, num_classes=None, num_labels=None,
             average="micro", multidim_average="global", top_k=1, ignore_index=None,
             validate_args=True, zero_division=0):
    """F1 = 2·TP / (2·TP + FN + FP) (``fbeta_score`` with β = 1).

    Example: ``f1_score(preds, target, task="multiclass", num_classes=4, average="weighted")``"""
    return _counting("fbeta", preds, target, task, threshold, num_classes, num_labels, average,
                     top_k, ignore_index, multidim_average, beta=1.0,
                     zero_division=zero_division)


def _confmat_counts(preds, target, task, threshold, num_classes, num_labels, ignore_index):
    if task == "multilabel":
        tp, fp, tn, fn = _stat_scores(preds, target, task, threshold, None, num_labels, 1,
                                      ignore_index)
        return np.stack([np.stack([tn, fp], -1), np.stack([fn, tp], -1)], -2)
    if task == "binary":
        tp, fp, tn, fn = _stat_scores(preds, target, task, threshold, None, None, 1,
                                      ignore_index)
        return np.array([[tn, fp], [fn, tp]], np.int64)
    _check_task(task, num_classes, None)
    return _multiclass_confmat(_np(preds, "preds"), _np(target, "target"), num_classes, 1,
                               ignore_index)


def _normalize_confmat(cm, normalize):
    if normalize in (None, "none"):
        return cm
    cm = cm.astype(np.float64)
    if normalize == "true":
        return _safe_div(cm, cm.sum(-1, keepdims=True))
    if normalize == "pred":
        return _safe_div(cm, cm.sum(-2, keepdims=True))
    return _safe_div(cm, cm.sum((-2, -1), keepdims=True))


def confusion_matrix(preds, target, task, threshold=0.5, num_classes=None, num_labels=None,
                     normalize=None, ignore_index=None, validate_args=True):
    """Confusion matrix ``M[i, j]`` = number of samples of true class ``i`` predicted as ``j``
    (binary: 2×2; multilabel: one 2×2 per label, ``(L, 2, 2)``). ``normalize`` = ``"true"``
    (rows sum to 1), ``"pred"`` (columns), ``"all"``, or None (counts, int64).

    Example: ``confusion_matrix(preds, target, task="multiclass", num_classes=3)``"""
    if normalize not in ("true", "pred", "all", "none", None):
        raise ValueError(f"normalize must be 'true', 'pred', 'all', 'none' or None, "
                         f"got {normalize!r}")
    cm = _confmat_counts(preds, target, task, threshold, num_classes, num_labels, ignore_index)
    if normalize in (None, "none"):
        return _out(cm, np.int64)
    return _out(_normalize_confmat(cm, normalize))


# ---------------------------------------------------------------------------------------
# curves


def _curve_inputs(preds, target, task, num_classes, num_labels, ignore_index):
    """(scores, labels) as float64 (N,) / (N, K) and int (N,) / (N, K), ignored rows removed
    (binary, multiclass) or kept with label -1 (multilabel)."""
    _check_task(task, num_classes, num_labels)
    p, t = _np(preds, "preds"), _np(target, "target")
    if not _is_float(p):
        raise TypeError(f"preds must hold float scores for curve metrics, got dtype {p.dtype}")
    p = p if p.dtype in (np.float32, np.float64) else p.astype(np.float32)
    if task == "binary":
        if p.shape != t.shape:
            raise ValueError(f"preds and target must have the same shape, got {p.shape} and "
                             f"{t.shape}")
        p, t = p.reshape(-1), t.reshape(-1)
        _check_target_values(t, 1, ignore_index)
        if ignore_index is not None:
            keep = t != ignore_index
            p, t = p[keep], t[keep]
        return _sigmoid_if_logits(p), t.astype(np.int64)
    if task == "multiclass":
        C = num_classes
        if p.ndim != t.ndim + 1 or p.shape[1] != C:
            raise ValueError(f"preds must have shape (N, {C}, ...) for target (N, ...), got "
                             f"{p.shape} and {t.shape}")
        p = np.moveaxis(p, 1, -1).reshape(-1, C)
        t = t.reshape(-1)
        _check_target_values(t, C - 1, ignore_index)
        if ignore_index is not None:
            keep = t != ignore_index
            p, t = p[keep], t[keep]
        return _softmax_if_logits(p), t.astype(np.int64)
    L = num_labels
    if p.shape != t.shape or p.ndim < 2 or p.shape[1] != L:
        raise ValueError(f"preds and target must both have shape (N, {L}, ...), got {p.shape} "
                         f"and {t.shape}")
    p = np.moveaxis(p, 1, -1).reshape(-1, L)
    t = np.moveaxis(t, 1, -1).reshape(-1, L).astype(np.int64)
    _check_target_values(t, 1, ignore_index)
    if ignore_index is not None:
        t = np.where(t == ignore_index, -1, t)
    return _sigmoid_if_logits(p), t


def _clf_curve(scores, y):
    """False/true positive counts at every distinct score, highest score first."""
    order = np.argsort(-scores, kind="stable")
    sc, yy = scores[order], y[order]
    ends = np.r_[np.nonzero(np.diff(sc))[0], sc.size - 1] if sc.size else np.zeros(0, np.int64)
    tps = np.cumsum(yy)[ends].astype(np.float64)
    fps = (ends + 1) - tps
    return fps, tps, sc[ends]


def _thresholds_arg(thresholds):
    if thresholds is None:
        return None
    if isinstance(thresholds, bool):
        raise TypeError("thresholds must be None, an int, a list of floats or a tensor")
    if isinstance(thresholds, int):
        if thresholds < 2:
            raise ValueError(f"thresholds as an int must be >= 2, got {thresholds}")
        return np.linspace(0, 1, thresholds, dtype=np.float32)
    th = _np(thresholds, "thresholds").astype(np.float32).reshape(-1)
    if th.size and (th.min() < 0 or th.max() > 1):
        raise ValueError("thresholds must lie in [0, 1]")
    return th


def _binned_counts(scores, y, th):
    """Confusion counts of ``scores >= th[i]`` for every threshold (compared in the scores'
    precision, as torchmetrics compares them)."""
    pos = scores[None, :] >= th.astype(scores.dtype)[:, None]
    tp = (pos & y).sum(1)
    fp = (pos & ~y).sum(1)
    fn = (~pos & y).sum(1)
    tn = (~pos & ~y).sum(1)
    return tp, fp, tn, fn


def _binary_roc(scores, labels, th, pos_label=1):
    y = labels == pos_label
    if th is not None:
        tp, fp, tn, fn = _binned_counts(scores, y, th)
        return (_safe_div(fp, fp + tn)[::-1], _safe_div(tp, tp + fn)[::-1], th[::-1])
    fps, tps, thr = _clf_curve(scores, y)
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    thr = np.r_[1.0, thr]
    fpr = np.zeros_like(thr) if fps[-1] <= 0 else fps / fps[-1]
    tpr = np.zeros_like(thr) if tps[-1] <= 0 else tps / tps[-1]
    return fpr, tpr, thr


def _binary_pr(scores, labels, th, pos_label=1):
    """(precision, recall, thresholds) ending at precision 1, recall 0. Exact curves: recall
    is undefined (NaN) for a class with no positives, except that every recall is 1 when all
    labels are 0 (as torchmetrics defines it)."""
    y = labels == pos_label
    if th is not None:
        tp, fp, tn, fn = _binned_counts(scores, y, th)
        prec = np.r_[_safe_div(tp, tp + fp, np.nan), 1.0]
        rec = np.r_[_safe_div(tp, tp + fn, np.nan), 0.0]
        return prec, rec, th
    fps, tps, thr = _clf_curve(scores, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = tps / (tps + fps)
        rec = tps / tps[-1] if tps.size else tps
    if labels.size and (labels == 0).all():
        rec = np.ones_like(rec)
    return np.r_[prec[::-1], 1.0], np.r_[rec[::-1], 0.0], thr[::-1].copy()


def _auc(x, y):
    if x.size < 2:
        return np.nan if x.size == 0 else 0.0
    dx = np.diff(x)
    direction = -1.0 if (dx < 0).any() and (dx <= 0).all() else 1.0
    return direction * float(np.sum(dx * (y[1:] + y[:-1]) / 2))


def _binary_auroc(scores, labels, th, max_fpr=None, pos_label=1):
    fpr, tpr, _ = _binary_roc(scores, labels, th, pos_label)
    if max_fpr is None or max_fpr == 1 or fpr.sum() == 0 or tpr.sum() == 0:
        return _auc(fpr, tpr)
    stop = np.searchsorted(fpr, max_fpr, side="right")
    w = (max_fpr - fpr[stop - 1]) / (fpr[stop] - fpr[stop - 1])
    interp = tpr[stop - 1] + w * (tpr[stop] - tpr[stop - 1])
    pauc = _auc(np.r_[fpr[:stop], max_fpr], np.r_[tpr[:stop], interp])
    lo = 0.5 * max_fpr ** 2
    return 0.5 * (1 + (pauc - lo) / (max_fpr - lo))


def _ap_from_curve(prec, rec, nan_to_zero):
    if nan_to_zero:
        prec, rec = np.nan_to_num(prec, nan=0.0), np.nan_to_num(rec, nan=0.0)
    return -np.sum((rec[1:] - rec[:-1]) * prec[:-1])


def _average_scores(res, average, weights):
    res = np.asarray(res, np.float64)
    if average in (None, "none"):
        return res
    ok = ~np.isnan(res)
    if average == "macro":
        return res[ok].mean() if ok.any() else np.nan
    w = np.asarray(weights, np.float64)[ok]
    return (res[ok] * _safe_div(w, w.sum())).sum()


def _per_class(fn, scores, labels, task, num_classes, num_labels):
    """``fn(scores_k, labels_k, pos_label)`` for each class (one-vs-rest) or label."""
    if task == "multiclass":
        return [fn(scores[:, k], labels, k) for k in range(num_classes)]
    out = []
    for k in range(num_labels):
        keep = labels[:, k] != -1
        out.append(fn(scores[keep, k], labels[keep, k], 1))
    return out


def _curve(binary_fn, preds, target, task, thresholds, num_classes, num_labels, ignore_index):
    """One curve (binary) or one per class: lists, or stacked tensors when binned."""
    th = _thresholds_arg(thresholds)
    s, y = _curve_inputs(preds, target, task, num_classes, num_labels, ignore_index)
    if task == "binary":
        return tuple(_out(a) for a in binary_fn(s, y, th))
    curves = _per_class(lambda a, b, k: binary_fn(a, b, th, k), s, y, task, num_classes,
                        num_labels)
    if th is not None:
        return (_out(np.stack([c[0] for c in curves])), _out(np.stack([c[1] for c in curves])),
                _out(curves[0][2]))
    return ([_out(c[0]) for c in curves], [_out(c[1]) for c in curves],
            [_out(c[2]) for c in curves])


def roc(preds, target, task, thresholds=None, num_classes=None, num_labels=None,
        ignore_index=None, validate_args=True):
    """Receiver operating characteristic: ``(fpr, tpr, thresholds)`` — for binary one curve
    starting at (0, 0) with threshold 1; for multiclass (one-vs-rest on softmax scores) and
    multilabel a list of curves per class, or stacked tensors when ``thresholds`` is binned.

    Example: ``fpr, tpr, thr = roc(scores, labels, task="binary")``"""
    return _curve(_binary_roc, preds, target, task, thresholds, num_classes, num_labels,
                  ignore_index)


def precision_recall_curve(preds, target, task, thresholds=None, num_classes=None,
                           num_labels=None, ignore_index=None, validate_args=True):
    """``(precision, recall, thresholds)``: precision TP/(TP+FP) and recall TP/(TP+FN) at every
    threshold (ascending), ending at precision 1, recall 0; per class for multiclass/multilabel.

    Example: ``p, r, t = precision_recall_curve(scores, labels, task="binary")``"""
    return _curve(_binary_pr, preds, target, task, thresholds, num_classes, num_labels,
                  ignore_index)


def _support(labels, task, K):
    if task == "multiclass":
        return np.bincount(labels, minlength=K)
    return (labels == 1).sum(0)


def auroc(preds, target, task, thresholds=None, num_classes=None, num_labels=None,
          average="macro", max_fpr=None, ignore_index=None, validate_args=True):
    """Area under the ROC curve (trapezoidal). Binary: optionally the McClish-standardised
    partial AUC up to ``max_fpr``; multiclass/multilabel: per class (one-vs-rest), averaged
    by ``average`` (macro, weighted by support, or none); classes whose AUC is undefined are
    left out of the average.

    Example: ``auroc(probs, labels, task="multiclass", num_classes=5)``"""
    _check_average(average, ("macro", "weighted", "none", None))
    if max_fpr is not None and not (isinstance(max_fpr, float) and 0 < max_fpr <= 1):
        raise ValueError(f"max_fpr must be a float in (0, 1], got {max_fpr!r}")
    th = _thresholds_arg(thresholds)
    s, y = _curve_inputs(preds, target, task, num_classes, num_labels, ignore_index)
    if task == "binary":
        return _out(_binary_auroc(s, y, th, max_fpr))
    K = num_classes if task == "multiclass" else num_labels
    res = _per_class(lambda a, b, k: _binary_auroc(a, b, th, None, k), s, y, task,
                     num_classes, num_labels)
    return _out(_average_scores(res, average, _support(y, task, K)))


def average_precision(preds, target, task, thresholds=None, num_classes=None, num_labels=None,
                      average="macro", ignore_index=None, validate_args=True):
    """Average precision Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the precision-recall curve; per class for
    multiclass/multilabel, averaged by ``average``.

    Example: ``average_precision(scores, labels, task="binary")``"""
    _check_average(average, ("macro", "weighted", "none", None))
    th = _thresholds_arg(thresholds)
    s, y = _curve_inputs(preds, target, task, num_classes, num_labels, ignore_index)
    if task == "binary":
        return _out(_ap_from_curve(*_binary_pr(s, y, th)[:2], nan_to_zero=True))
    K = num_classes if task == "multiclass" else num_labels
    res = _per_class(lambda a, b, k: _ap_from_curve(*_binary_pr(a, b, th, k)[:2],
                                                    nan_to_zero=th is not None),
                     s, y, task, num_classes, num_labels)
    return _out(_average_scores(res, average, _support(y, task, K)))


# ---------------------------------------------------------------------------------------
# regression


def _pair(preds, target):
    p = _np(preds, "preds").astype(np.float64)
    t = _np(target, "target").astype(np.float64)
    if p.shape != t.shape:
        raise ValueError(f"preds and target must have the same shape, got {p.shape} and "
                         f"{t.shape}")
    return p, t


def mean_squared_error(preds, target, squared=True, num_outputs=1):
    """Mean of (preds − target)²; its square root when ``squared=False``.

    Example: ``mean_squared_error(fastdl.tensor([2.5, 0.0]), fastdl.tensor([3.0, -0.5]))``"""
    p, t = _pair(preds, target)
    m = ((p - t) ** 2).reshape(-1, num_outputs).mean(0) if num_outputs > 1 else \
        ((p - t) ** 2).mean() if p.size else np.nan
    return _out(m if squared else np.sqrt(m))


def mean_absolute_error(preds, target, num_outputs=1):
    """Mean of |preds − target|.

    Example: ``mean_absolute_error(fastdl.tensor([2.5, 0.0]), fastdl.tensor([3.0, -0.5]))``"""
    p, t = _pair(preds, target)
    a = np.abs(p - t)
    return _out(a.reshape(-1, num_outputs).mean(0) if num_outputs > 1 else
                (a.mean() if a.size else np.nan))


def _r2_from_sums(s_y, s_yy, s_res, n, adjusted, multioutput):
    if n < 2:
        raise ValueError("r2_score needs at least two samples")
    tss = s_yy - s_y * s_y / n
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(tss == 0, np.where(s_res == 0, 1.0, 0.0), 1 - s_res / np.where(
            tss == 0, 1, tss))
    if multioutput == "raw_values":
        r2 = raw
    elif multioutput == "uniform_average":
        r2 = raw.mean()
    elif multioutput == "variance_weighted":
        r2 = (raw * tss / tss.sum()).sum()
    else:
        raise ValueError(f"multioutput must be 'raw_values', 'uniform_average' or "
                         f"'variance_weighted', got {multioutput!r}")
    if adjusted:
        if adjusted < 0 or not isinstance(adjusted, int):
            raise ValueError(f"adjusted must be a non-negative int, got {adjusted!r}")
        if adjusted < n - 1:
            r2 = 1 - (1 - r2) * (n - 1) / (n - adjusted - 1)
    return r2


def r2_score(preds, target, adjusted=0, multioutput="uniform_average"):
    """Coefficient of determination R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² (per output for 2-D
    inputs, then ``multioutput``); ``adjusted=k`` applies 1 − (1 − R²)(n − 1)/(n − k − 1).

    Example: ``r2_score(fastdl.tensor([2.5, 0.0, 2.0]), fastdl.tensor([3.0, -0.5, 2.0]))``"""
    p, t = _pair(preds, target)
    if p.ndim > 2:
        raise ValueError(f"r2_score expects 1-D or 2-D inputs, got shape {p.shape}")
    s_res = ((t - p) ** 2).sum(0)
    return _out(_r2_from_sums(t.sum(0), (t * t).sum(0), s_res, t.shape[0], adjusted,
                              multioutput))
