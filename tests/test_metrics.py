"""fastdl.metrics against torchmetrics (when installed) and scikit-learn (always): every
metric, class and functional form, every task and average, edge cases."""
import warnings

import numpy as np
import pytest

import fastdl
from fastdl import metrics as M
from fastdl.metrics import functional as F

rng = np.random.default_rng(1234)
N, C, L = 120, 5, 4
LOGITS = rng.normal(size=(N, C)).astype(np.float32)
Y = rng.integers(0, C, N)
Y[Y == 3] = 2                                    # class 3 never present
LABEL_PREDS = rng.integers(0, C, N)
BIN_LOGITS = rng.normal(size=(N,)).astype(np.float32)
BIN_T = rng.integers(0, 2, N)
TIED = np.round(rng.random(N), 1).astype(np.float32)   # many tied scores
ML_P = rng.random((N, L)).astype(np.float32)
ML_T = rng.integers(0, 2, (N, L))
ML_T[:, 2] = 0                                   # a label never positive

CASES = {
    "multiclass": dict(preds=LOGITS, target=Y, kw=dict(num_classes=C)),
    "multiclass_labels": dict(preds=LABEL_PREDS, target=Y, kw=dict(num_classes=C)),
    "binary": dict(preds=BIN_LOGITS, target=BIN_T, kw={}),
    "multilabel": dict(preds=ML_P, target=ML_T, kw=dict(num_labels=L)),
}


def _task(case):
    return case.split("_")[0]


def _cmp(a, b, atol=1e-6):
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _cmp(x, y, atol)
        return
    a = a.numpy()
    b = b.numpy() if hasattr(b, "numpy") else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), atol=atol,
                               equal_nan=True)


@pytest.fixture(scope="module")
def tm():
    pytest.importorskip("torch")
    return pytest.importorskip("torchmetrics")


def _torch(x):
    import torch
    return torch.tensor(x)


COUNTING = ["accuracy", "precision", "recall", "f1_score"]


COUNTING_GRID = [(case, average, ii) for case in CASES
                 for average in (["micro"] if case == "binary" else
                                 ["micro", "macro", "weighted", "none"])
                 for ii in ([None, 0, 9] if _task(case) == "multiclass" else [None, 0])]


@pytest.mark.parametrize("fn", COUNTING + ["fbeta_score"])
@pytest.mark.parametrize("case,average,ignore_index", COUNTING_GRID)
def test_counting_against_torchmetrics(tm, fn, case, average, ignore_index):
    c = CASES[case]
    extra = {"beta": 2.0} if fn == "fbeta_score" else {}
    kw = dict(task=_task(case), average=average, ignore_index=ignore_index, **c["kw"], **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = getattr(tm.functional, fn)(_torch(c["preds"]), _torch(c["target"]), **kw)
    _cmp(getattr(F, fn)(fastdl.tensor(c["preds"]), fastdl.tensor(c["target"]), **kw), want)


@pytest.mark.parametrize("fn", COUNTING)
@pytest.mark.parametrize("top_k", [2, 3])
@pytest.mark.parametrize("average", ["micro", "macro", "weighted", "none"])
def test_top_k_against_torchmetrics(tm, fn, top_k, average):
    kw = dict(task="multiclass", num_classes=C, top_k=top_k, average=average)
    want = getattr(tm.functional, fn)(_torch(LOGITS), _torch(Y), **kw)
    _cmp(getattr(F, fn)(fastdl.tensor(LOGITS), fastdl.tensor(Y), **kw), want)


@pytest.mark.parametrize("case", ["multiclass", "binary", "multilabel"])
@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix_against_torchmetrics(tm, case, normalize):
    c = CASES[case]
    kw = dict(task=case, normalize=normalize, **c["kw"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = tm.functional.confusion_matrix(_torch(c["preds"]), _torch(c["target"]), **kw)
    got = F.confusion_matrix(fastdl.tensor(c["preds"]), fastdl.tensor(c["target"]), **kw)
    _cmp(got, want)


CURVE_CASES = {
    "binary": dict(preds=TIED, target=BIN_T, kw={}),
    "binary_negative": dict(preds=TIED, target=0 * BIN_T, kw={}),
    "binary_logits": dict(preds=BIN_LOGITS, target=BIN_T, kw={}),
    "multiclass": dict(preds=LOGITS, target=Y, kw=dict(num_classes=C)),
    "multilabel": dict(preds=ML_P, target=ML_T, kw=dict(num_labels=L)),
}


@pytest.mark.parametrize("fn", ["auroc", "average_precision", "roc", "precision_recall_curve"])
@pytest.mark.parametrize("case", list(CURVE_CASES))
@pytest.mark.parametrize("thresholds", [None, 7, [0.1, 0.5, 0.9]])
def test_curves_against_torchmetrics(tm, fn, case, thresholds):
    c = CURVE_CASES[case]
    averages = ["macro", "weighted", "none"] if (
        fn in ("auroc", "average_precision") and _task(case) != "binary") else [None]
    for avg in averages:
        kw = dict(task=_task(case), thresholds=thresholds, **c["kw"])
        if avg:
            kw["average"] = avg
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = getattr(tm.functional, fn)(_torch(c["preds"]), _torch(c["target"]), **kw)
        _cmp(getattr(F, fn)(fastdl.tensor(c["preds"]), fastdl.tensor(c["target"]), **kw), want)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_auroc_max_fpr_and_ignore_index_against_torchmetrics(tm):
    for mf in (0.1, 0.3, 0.8):
        want = tm.functional.auroc(_torch(TIED), _torch(BIN_T), task="binary", max_fpr=mf)
        _cmp(F.auroc(fastdl.tensor(TIED), fastdl.tensor(BIN_T), task="binary", max_fpr=mf),
             want)
    kw = dict(task="multiclass", num_classes=C, ignore_index=1)
    _cmp(F.auroc(fastdl.tensor(LOGITS), fastdl.tensor(Y), **kw),
         tm.functional.auroc(_torch(LOGITS), _torch(Y), **kw))


def test_regression_against_torchmetrics(tm):
    p = rng.normal(size=(60, 3)).astype(np.float32)
    t = (p + 0.5 * rng.normal(size=(60, 3))).astype(np.float32)
    _cmp(F.mean_squared_error(fastdl.tensor(p[:, 0]), fastdl.tensor(t[:, 0])),
         tm.functional.mean_squared_error(_torch(p[:, 0]), _torch(t[:, 0])), 1e-5)
    _cmp(F.mean_squared_error(fastdl.tensor(p[:, 0]), fastdl.tensor(t[:, 0]), squared=False),
         tm.functional.mean_squared_error(_torch(p[:, 0]), _torch(t[:, 0]), squared=False),
         1e-5)
    _cmp(F.mean_absolute_error(fastdl.tensor(p), fastdl.tensor(t)),
         tm.functional.mean_absolute_error(_torch(p), _torch(t)), 1e-5)
    for mo in ("raw_values", "uniform_average", "variance_weighted"):
        _cmp(F.r2_score(fastdl.tensor(p), fastdl.tensor(t), multioutput=mo),
             tm.functional.r2_score(_torch(p), _torch(t), multioutput=mo), 1e-5)
    _cmp(F.r2_score(fastdl.tensor(p[:, 0]), fastdl.tensor(t[:, 0]), adjusted=2),
         tm.functional.r2_score(_torch(p[:, 0]), _torch(t[:, 0]), adjusted=2), 1e-5)


# ---- scikit-learn references (always run) -------------------------------------------------

def test_counting_against_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    pred = LOGITS.argmax(1)
    labels = list(range(C))
    yt = fastdl.tensor(Y)
    p = fastdl.tensor(LOGITS)
    assert np.isclose(F.accuracy(p, yt, task="multiclass", num_classes=C).item(),
                      skm.accuracy_score(Y, pred), atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for avg in ("micro", "weighted"):
            for fn, ref in (("precision", skm.precision_score), ("recall", skm.recall_score),
                            ("f1_score", skm.f1_score)):
                got = getattr(F, fn)(p, yt, task="multiclass", num_classes=C, average=avg)
                want = ref(Y, pred, average=avg, labels=labels, zero_division=0)
                assert np.isclose(got.item(), want, atol=1e-6), (fn, avg)
        got = F.fbeta_score(p, yt, task="multiclass", num_classes=C, beta=0.5, average="none")
        want = skm.fbeta_score(Y, pred, beta=0.5, average=None, labels=labels,
                               zero_division=0)
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)
    np.testing.assert_array_equal(
        F.confusion_matrix(p, yt, task="multiclass", num_classes=C).numpy(),
        skm.confusion_matrix(Y, pred, labels=labels))
    bp = fastdl.tensor(BIN_LOGITS)
    assert np.isclose(F.precision(bp, fastdl.tensor(BIN_T), task="binary").item(),
                      skm.precision_score(BIN_T, BIN_LOGITS > 0), atol=1e-6)


def test_curves_against_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    s, t = fastdl.tensor(TIED), fastdl.tensor(BIN_T)
    assert np.isclose(F.auroc(s, t, task="binary").item(), skm.roc_auc_score(BIN_T, TIED),
                      atol=1e-6)
    assert np.isclose(F.average_precision(s, t, task="binary").item(),
                      skm.average_precision_score(BIN_T, TIED), atol=1e-6)
    fpr, tpr, _ = F.roc(s, t, task="binary")
    sf, st, _ = skm.roc_curve(BIN_T, TIED, drop_intermediate=False)
    np.testing.assert_allclose(fpr.numpy(), sf, atol=1e-6)
    np.testing.assert_allclose(tpr.numpy(), st, atol=1e-6)
    prob = np.exp(LOGITS) / np.exp(LOGITS).sum(1, keepdims=True)
    y_all = rng.integers(0, C, N)                 # every class present for sklearn's ovr
    got = F.auroc(fastdl.tensor(prob), fastdl.tensor(y_all), task="multiclass",
                  num_classes=C, average="macro")
    assert np.isclose(got.item(), skm.roc_auc_score(y_all, prob, multi_class="ovr"), atol=1e-5)


def test_regression_against_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    p = rng.normal(size=50)
    t = p + rng.normal(size=50)
    assert np.isclose(F.r2_score(fastdl.tensor(p), fastdl.tensor(t)).item(),
                      skm.r2_score(t, p), atol=1e-5)
    assert np.isclose(F.mean_squared_error(fastdl.tensor(p), fastdl.tensor(t)).item(),
                      skm.mean_squared_error(t, p), atol=1e-5)
    assert np.isclose(F.mean_absolute_error(fastdl.tensor(p), fastdl.tensor(t)).item(),
                      skm.mean_absolute_error(t, p), atol=1e-5)


# ---- the classes ---------------------------------------------------------------------------

CLASS_CASES = [
    (M.Accuracy, F.accuracy, dict(task="multiclass", num_classes=C, average="macro")),
    (M.Precision, F.precision, dict(task="multiclass", num_classes=C, average="weighted")),
    (M.Recall, F.recall, dict(task="multiclass", num_classes=C, average="none", top_k=2)),
    (M.F1Score, F.f1_score, dict(task="multiclass", num_classes=C)),
    (M.FBetaScore, F.fbeta_score, dict(task="multiclass", num_classes=C, beta=0.5)),
    (M.ConfusionMatrix, F.confusion_matrix, dict(task="multiclass", num_classes=C,
                                                 normalize="true")),
    (M.AUROC, F.auroc, dict(task="multiclass", num_classes=C)),
    (M.AveragePrecision, F.average_precision, dict(task="multiclass", num_classes=C)),
    (M.ROC, F.roc, dict(task="multiclass", num_classes=C, thresholds=11)),
    (M.PrecisionRecallCurve, F.precision_recall_curve, dict(task="multiclass",
                                                            num_classes=C)),
]


@pytest.mark.parametrize("cls,fn,kw", CLASS_CASES, ids=[c[0].__name__ for c in CLASS_CASES])
def test_class_accumulates_like_functional_on_all_data(cls, fn, kw):
    m = cls(**kw)
    probs = np.exp(LOGITS) / np.exp(LOGITS).sum(1, keepdims=True)  # batch-independent scores
    batches = [slice(0, 50), slice(50, 51), slice(51, N)]
    for b in batches:
        batch_val = m(fastdl.tensor(probs[b]), fastdl.tensor(Y[b]))
        _cmp(batch_val, fn(fastdl.tensor(probs[b]), fastdl.tensor(Y[b]), **kw))
    _cmp(m.compute(), fn(fastdl.tensor(probs), fastdl.tensor(Y), **kw))
    m.reset()
    with pytest.raises(RuntimeError, match="before any update"):
        m.compute()
    m.update(fastdl.tensor(probs[:10]), fastdl.tensor(Y[:10]))
    _cmp(m.compute(), fn(fastdl.tensor(probs[:10]), fastdl.tensor(Y[:10]), **kw))


def test_counting_state_is_sufficient_statistics():
    m = M.Accuracy(task="multiclass", num_classes=C)
    for _ in range(1000):
        m.update(fastdl.tensor(LOGITS[:8]), fastdl.tensor(Y[:8]))
    assert set(m._state) == {"tp", "fp", "tn", "fn"}
    assert all(v.shape == (C,) for v in m._state.values())
    assert int(m._state["tp"].sum() + m._state["fn"].sum()) == 8000


def test_regression_classes_accumulate():
    p = rng.normal(size=(90, 2))
    t = p + rng.normal(size=(90, 2))
    for cls, fn, kw in ((M.MeanSquaredError, F.mean_squared_error, {}),
                        (M.MeanAbsoluteError, F.mean_absolute_error, {}),
                        (M.R2Score, F.r2_score, {})):
        m = cls(**kw)
        for b in (slice(0, 30), slice(30, 90)):
            m.update(fastdl.tensor(p[b, 0]), fastdl.tensor(t[b, 0]))
        _cmp(m.compute(), fn(fastdl.tensor(p[:, 0]), fastdl.tensor(t[:, 0])), 1e-5)
    m = M.R2Score(num_outputs=2, multioutput="raw_values")
    m.update(fastdl.tensor(p[:40]), fastdl.tensor(t[:40]))
    m.update(fastdl.tensor(p[40:]), fastdl.tensor(t[40:]))
    _cmp(m.compute(), F.r2_score(fastdl.tensor(p), fastdl.tensor(t), multioutput="raw_values"),
         1e-5)


def test_metric_collection():
    col = M.MetricCollection({"acc": M.Accuracy(task="multiclass", num_classes=C),
                              "f1": M.F1Score(task="multiclass", num_classes=C,
                                              average="macro")}, prefix="val_")
    out = col(fastdl.tensor(LOGITS[:60]), fastdl.tensor(Y[:60]))
    assert set(out) == {"val_acc", "val_f1"}
    col.update(fastdl.tensor(LOGITS[60:]), fastdl.tensor(Y[60:]))
    res = col.compute()
    _cmp(res["val_acc"], F.accuracy(fastdl.tensor(LOGITS), fastdl.tensor(Y), task="multiclass",
                                    num_classes=C))
    _cmp(res["val_f1"], F.f1_score(fastdl.tensor(LOGITS), fastdl.tensor(Y), task="multiclass",
                                   num_classes=C, average="macro"))
    listed = M.MetricCollection([M.Accuracy(task="binary"), M.Recall(task="binary")])
    assert list(listed) == ["Accuracy", "Recall"]
    with pytest.raises(TypeError, match="not a Metric"):
        M.MetricCollection({"x": 3})


def test_plot_returns_figure_and_axes(tmp_path):
    pytest.importorskip("matplotlib")
    for m in (M.Accuracy(task="multiclass", num_classes=C, average="none"),
              M.ConfusionMatrix(task="multiclass", num_classes=C),
              M.ROC(task="binary")):
        if isinstance(m, M.ROC):
            m.update(fastdl.tensor(TIED), fastdl.tensor(BIN_T))
        else:
            m.update(fastdl.tensor(LOGITS), fastdl.tensor(Y))
        fig, ax = m.plot()
        assert ax.get_title() == type(m).__name__
        fig.savefig(tmp_path / f"{type(m).__name__}.png")
        assert (tmp_path / f"{type(m).__name__}.png").stat().st_size > 1000
        import matplotlib.pyplot as plt
        plt.close(fig)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: M.Accuracy(task="multi"), ValueError, "task"),
    (lambda: M.Accuracy(task="multiclass"), ValueError, "num_classes"),
    (lambda: M.Accuracy(task="multilabel", num_labels=0), ValueError, "num_labels"),
    (lambda: M.Precision(task="binary", average="mean"), ValueError, "average"),
    (lambda: M.Accuracy(task="multiclass", num_classes=3, top_k=4), ValueError, "top_k"),
    (lambda: M.FBetaScore(task="binary", beta=0), ValueError, "beta"),
    (lambda: M.ConfusionMatrix(task="binary", normalize="rows"), ValueError, "normalize"),
    (lambda: M.AUROC(task="binary", average="micro"), ValueError, "average"),
    (lambda: F.accuracy(fastdl.tensor([1, 2]), fastdl.tensor([1, 2, 0]), task="multiclass",
                        num_classes=3), ValueError, "shape"),
    (lambda: F.accuracy(fastdl.tensor([0, 1]), fastdl.tensor([0, 5]), task="multiclass",
                        num_classes=3), RuntimeError, "target holds values outside"),
    (lambda: F.accuracy(fastdl.tensor([0.2, 0.7]), fastdl.tensor([0, 2]), task="binary"),
     RuntimeError, "target holds values outside"),
    (lambda: F.auroc(fastdl.tensor([0, 1]), fastdl.tensor([0, 1]), task="binary"),
     TypeError, "float scores"),
    (lambda: F.roc(fastdl.tensor([0.1, 0.9]), fastdl.tensor([0, 1]), task="binary",
                   thresholds=1), ValueError, "thresholds"),
    (lambda: F.r2_score(fastdl.tensor([1.0]), fastdl.tensor([1.0])), ValueError,
     "two samples"),
    (lambda: F.mean_squared_error(fastdl.tensor([1.0, 2.0]), fastdl.tensor([1.0])),
     ValueError, "same shape"),
])
def test_errors_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
