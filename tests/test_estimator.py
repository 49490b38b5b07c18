"""fastdl.estimator: skorch's API as real scikit-learn estimators (clone, params, search,
cross-validation, pipelines), callbacks, persistence, Optuna."""
import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import (GridSearchCV, RandomizedSearchCV,  # noqa: E402
                                     StratifiedKFold, cross_val_score, cross_validate)
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

try:
    import optuna  # noqa: F401  (used by the filterwarnings mark)
except ImportError:  # pragma: no cover
    optuna = None

import fastdl  # noqa: E402
from fastdl import nn  # noqa: E402
from fastdl.estimator import NeuralNetClassifier, NeuralNetRegressor, ValidSplit  # noqa: E402
from fastdl.estimator.callbacks import (Checkpoint, EarlyStopping, EpochScoring,  # noqa: E402
                                        LRScheduler, OptunaPruning, ProgressBar)


class MLP(nn.Module):
    def __init__(self, n_in=64, hidden=16, n_out=10, dropout=0.0):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, n_out))

    def forward(self, x):
        return self.body(x)


class SoftmaxMLP(MLP):
    def forward(self, x):
        return nn.functional.softmax(self.body(x), dim=-1)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X, y = (X[:360] / 16).astype(np.float32), y[:360].astype(np.int64)
    return X, y


def _net(**kw):
    base = dict(criterion=nn.CrossEntropyLoss, max_epochs=2, lr=0.2, batch_size=32,
                verbose=0)
    base.update(kw)
    return NeuralNetClassifier(MLP, **base)


def test_fit_predict_score_history(digits):
    X, y = digits
    fastdl.manual_seed(0)
    net = _net(max_epochs=4).fit(X, y)
    proba = net.predict_proba(X)
    assert proba.shape == (len(X), 10)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)        # softmax applied ("auto")
    np.testing.assert_array_equal(net.predict(X), proba.argmax(1))
    assert net.score(X, y) == pytest.approx(np.mean(net.predict(X) == y))
    h = net.history
    assert len(h) == 4 and h[-1, "epoch"] == 4
    for key in ("train_loss", "valid_loss", "valid_acc", "dur"):
        assert len(h[:, key]) == 4
    assert h[:, "train_loss"][-1] < h[:, "train_loss"][0]
    assert sum(b["train_batch_size"] for b in h[0]["batches"] if "train_batch_size" in b) == \
        len(X) - len(X) // 5                                         # 5-fold stratified split
    np.testing.assert_array_equal(net.classes_, np.arange(10))


def test_default_nll_criterion_takes_log_of_probabilities(digits):
    X, y = digits
    net = NeuralNetClassifier(SoftmaxMLP, max_epochs=3, lr=0.5, verbose=0, train_split=None)
    net.fit(X, y)
    assert net.history[-1, "train_loss"] < net.history[0, "train_loss"]
    assert np.isfinite(net.history[:, "train_loss"]).all()


def test_clone_get_set_params_routing():
    net = _net(module__hidden=8, optimizer__weight_decay=1e-4, iterator_train__shuffle=False,
               callbacks=[("es", EarlyStopping(patience=3))])
    p = net.get_params()
    assert p["module__hidden"] == 8 and p["optimizer__weight_decay"] == 1e-4
    assert p["callbacks__es__patience"] == 3
    c = clone(net)
    assert c.get_params(deep=False)["module__hidden"] == 8 and c is not net
    c.set_params(module__hidden=12, lr=0.05, callbacks__es__patience=7)
    assert c.module__hidden == 12 and c.lr == 0.05 and c.callbacks[0][1].patience == 7
    with pytest.raises(ValueError, match="invalid parameter 'bogus'"):
        c.set_params(bogus=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'hidden'"):
        _net(hidden=3)
    with pytest.raises(RuntimeError, match="CPU"):
        _net(device="cuda")


def test_routed_arguments_reach_their_targets(digits):
    X, y = digits
    net = _net(module__hidden=7, optimizer=fastdl.optim.Adam, optimizer__weight_decay=0.01,
               max_epochs=1).fit(X, y)
    assert net.module_.body[0].weight.shape == (7, 64)
    assert net.optimizer_.param_groups[0]["weight_decay"] == 0.01
    assert isinstance(net.optimizer_, fastdl.optim.Adam)


def test_grid_search_and_cross_validation(digits):
    X, y = digits
    fastdl.manual_seed(1)
    gs = GridSearchCV(_net(), {"lr": [0.05, 0.2], "module__hidden": [8, 16]}, cv=3)
    gs.fit(X, y)
    assert len(gs.cv_results_["params"]) == 4
    assert set(gs.best_params_) == {"lr", "module__hidden"}
    scores = cross_val_score(_net(), X, y, cv=StratifiedKFold(3))
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    res = cross_validate(_net(), X, y, cv=3, scoring=["accuracy", "f1_macro"])
    assert res["test_f1_macro"].shape == (3,)
    rs = RandomizedSearchCV(_net(), {"lr": [0.05, 0.1, 0.2], "module__dropout": [0.0, 0.2]},
                            n_iter=2, cv=2, random_state=0)
    rs.fit(X, y)
    assert len(rs.cv_results_["params"]) == 2


def test_pipeline_with_scaler(digits):
    X, y = digits
    pipe = Pipeline([("scale", StandardScaler()), ("net", _net(max_epochs=3))])
    pipe.fit(X, y)
    assert 0 <= pipe.score(X, y) <= 1
    pipe.set_params(net__module__hidden=4)
    pipe.fit(X, y)
    assert pipe.named_steps["net"].module_.body[0].weight.shape[0] == 4


def test_regressor(digits):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    w = rng.normal(size=(5, 1)).astype(np.float32)
    y = X @ w
    reg = NeuralNetRegressor(MLP, module__n_in=5, module__n_out=1, module__hidden=32,
                             max_epochs=30, lr=0.05, batch_size=32, verbose=0)
    reg.fit(X, y)
    assert reg.score(X, y) > 0.9
    assert reg.predict(X).shape == (200, 1)


def test_dataset_inputs_and_tensors(digits):
    X, y = digits
    ds = fastdl.data.TensorDataset(fastdl.tensor(X), fastdl.tensor(y))
    net = _net(train_split=None, max_epochs=1).fit(ds, None)
    assert net.predict(ds).shape == (len(X),)
    net2 = _net(train_split=ValidSplit(0.25, stratified=True, random_state=0), max_epochs=1)
    net2.fit(fastdl.tensor(X), fastdl.tensor(y))
    assert "valid_loss" in net2.history[-1]


def test_early_stopping_and_lr_scheduler(digits):
    X, y = digits
    es = EarlyStopping(monitor="valid_loss", patience=2, sink=None)
    net = _net(lr=0.0, max_epochs=20, callbacks=[es]).fit(X, y)   # lr 0: nothing improves
    assert len(net.history) == 3                                   # best at 1, 2 misses
    sch = LRScheduler("StepLR", step_size=1, gamma=0.5)
    net = _net(lr=0.2, max_epochs=3, callbacks=[sch]).fit(X, y)
    assert net.history[:, "event_lr"] == pytest.approx([0.1, 0.05, 0.025])


def test_epoch_scoring_checkpoint_progressbar_and_params_roundtrip(digits, tmp_path):
    X, y = digits
    pytest.importorskip("tqdm")
    cp = Checkpoint(dirname=str(tmp_path / "ck"), monitor="valid_loss_best")
    sc = EpochScoring("f1_macro", lower_is_better=False, name="valid_f1")
    net = _net(max_epochs=3, callbacks=[cp, sc, ProgressBar()]).fit(X, y)
    assert len(net.history[:, "valid_f1"]) == 3
    assert (tmp_path / "ck" / "params.safetensors").exists()
    assert (tmp_path / "ck" / "history.json").exists()
    f = tmp_path / "p.safetensors"
    net.save_params(f_params=str(f), f_history=str(tmp_path / "h.json"))
    other = _net().initialize()
    other.load_params(f_params=str(f), f_history=str(tmp_path / "h.json"))
    np.testing.assert_allclose(other.predict_proba(X), net.predict_proba(X), rtol=1e-6)
    assert other.history[:, "train_loss"] == net.history[:, "train_loss"]


def test_warm_start_and_partial_fit(digits):
    X, y = digits
    net = _net(max_epochs=1, warm_start=True).fit(X, y)
    w = net.module_.body[0].weight.detach().numpy().copy()
    net.fit(X, y)
    assert len(net.history) == 2
    assert not np.array_equal(w, net.module_.body[0].weight.detach().numpy())
    net.partial_fit(X, y)
    assert len(net.history) == 3


@pytest.mark.skipif(optuna is None, reason="needs optuna (pip install fastdl[tune])")
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_optuna_search_cv_and_pruning(digits):
    import optuna
    oi = pytest.importorskip("optuna_integration")
    X, y = digits
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search = oi.OptunaSearchCV(_net(), {"lr": optuna.distributions.FloatDistribution(
        0.01, 0.3, log=True)}, cv=2, n_trials=2, random_state=0)
    search.fit(X, y)
    assert len(search.trials_) == 2 and "lr" in search.best_params_

    def objective(trial):
        net = _net(max_epochs=6, callbacks=[OptunaPruning(trial, monitor="valid_loss")])
        net.fit(X, y)
        return net.history[-1, "valid_loss"]

    class PruneAfterFirst(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.last_step is not None and trial.last_step >= 2

    study = optuna.create_study(pruner=PruneAfterFirst())
    study.optimize(objective, n_trials=1)
    t = study.trials[0]
    assert t.state == optuna.trial.TrialState.PRUNED
    assert sorted(t.intermediate_values) == [1, 2]
