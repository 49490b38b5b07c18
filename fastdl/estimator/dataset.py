"""Data helpers of the estimators: ``ValidSplit`` (the train/validation split) and the
conversion of ``X``/``y`` into a Dataset, as skorch keeps them in ``skorch.dataset``."""
from __future__ import annotations

import numbers

import numpy as np

from ..data import Dataset, Subset


def _as_numpy(x):
    if x is None:
        return None
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        return x.detach().numpy() if hasattr(x, "detach") else x.numpy()
    if hasattr(x, "to_numpy"):  # pandas
        return x.to_numpy()
    return np.asarray(x)


class ArrayDataset(Dataset):
    """``(X[i], y[i])`` pairs over arrays (``y`` may be None: samples are ``(X[i], 0)``).
    ``X`` may be a dict of arrays sharing their first dimension (passed to the module as
    keyword arguments).

    Example: ``ArrayDataset(np.zeros((10, 3), 'f4'), np.arange(10))[2]``"""

    def __init__(self, X, y=None):
        self.X = {k: _as_numpy(v) for k, v in X.items()} if isinstance(X, dict) else \
            _as_numpy(X)
        self.y = _as_numpy(y)
        n = len(next(iter(self.X.values()))) if isinstance(self.X, dict) else len(self.X)
        if self.y is not None and len(self.y) != n:
            raise ValueError(f"X and y have different lengths: {n} and {len(self.y)}")
        self._n = n

    def __len__(self):
        return self._n

    def __getitem__(self, i):
        x = {k: v[i] for k, v in self.X.items()} if isinstance(self.X, dict) else self.X[i]
        return x, (self.y[i] if self.y is not None else np.int64(0))

    def get_batch(self, indices):
        """The collated batch ``[X[indices], y[indices]]`` cut by fancy indexing (what
        ``default_collate`` makes of the samples, without fetching them one by one); a dict
        ``X`` gives a dict of Tensors. The DataLoader calls it with its default
        ``collate_fn``. Example: ``xb, yb = ArrayDataset(X, y).get_batch(np.arange(8))``"""
        from ..tensor import Tensor
        idx = np.asarray(indices, dtype=np.int64)
        if isinstance(self.X, dict):
            x = {k: Tensor._make(np.ascontiguousarray(v[idx])) for k, v in self.X.items()}
        else:
            x = self.X[idx]
        y = self.y[idx] if self.y is not None else np.zeros(len(idx), np.int64)
        return [x, y]


def to_dataset(X, y=None):
    """A Dataset for ``X`` (returned as it is when it already is one) and ``y``."""
    if isinstance(X, Dataset) or (hasattr(X, "__getitem__") and hasattr(X, "__len__") and
                                  not isinstance(X, (np.ndarray, dict, list)) and
                                  not hasattr(X, "numpy")):
        if y is not None:
            raise ValueError("y must be None when X is a Dataset")
        return X
    return ArrayDataset(X, y)


class ValidSplit:
    """Hold out a validation set: ``cv`` an int k (one of k folds, i.e. 1/k of the data) or
    a float fraction; ``stratified=True`` keeps the class proportions of ``y`` (classifiers
    pass it by default); ``random_state`` shuffles before splitting. The folds come from
    scikit-learn (``KFold``/``StratifiedKFold``, ``ShuffleSplit``/``StratifiedShuffleSplit``).

    Example: ``NeuralNetClassifier(Net, train_split=ValidSplit(0.2, stratified=True))``"""

    def __init__(self, cv=5, stratified=False, random_state=None):
        if isinstance(cv, bool) or not isinstance(cv, numbers.Number):
            raise TypeError(f"ValidSplit: cv must be an int >= 2 or a float in (0, 1), got "
                            f"{cv!r}")
        if isinstance(cv, numbers.Integral) and cv < 2:
            raise ValueError(f"ValidSplit: cv as an int must be >= 2, got {cv}")
        if not isinstance(cv, numbers.Integral) and not 0 < cv < 1:
            raise ValueError(f"ValidSplit: cv as a float must lie in (0, 1), got {cv}")
        self.cv, self.stratified, self.random_state = cv, stratified, random_state

    def __call__(self, dataset, y=None, groups=None):
        from sklearn import model_selection as ms
        n = len(dataset)
        y_arr = _as_numpy(y)
        if self.stratified and y_arr is None:
            raise ValueError("ValidSplit: stratified=True needs y")
        if isinstance(self.cv, numbers.Integral):
            shuffle = self.random_state is not None
            kw = dict(n_splits=self.cv, shuffle=shuffle,
                      random_state=self.random_state if shuffle else None)
            splitter = ms.StratifiedKFold(**kw) if self.stratified else ms.KFold(**kw)
        else:
            kw = dict(n_splits=1, test_size=self.cv, random_state=self.random_state)
            splitter = (ms.StratifiedShuffleSplit(**kw) if self.stratified else
                        ms.ShuffleSplit(**kw))
        args = (np.zeros(n), y_arr) if self.stratified else (np.zeros(n),)
        train_idx, valid_idx = next(iter(splitter.split(*args)))
        return Subset(dataset, train_idx.tolist()), Subset(dataset, valid_idx.tolist())

    def __repr__(self):
        return (f"ValidSplit(cv={self.cv}, stratified={self.stratified}, "
                f"random_state={self.random_state})")
