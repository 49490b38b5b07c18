"""fastdl.estimator: fastdl modules as scikit-learn estimators, with skorch's API
(``NeuralNet``, ``NeuralNetClassifier``, ``NeuralNetRegressor``; callbacks in
``fastdl.estimator.callbacks``; ``ValidSplit`` in ``fastdl.estimator.dataset``). Needs
scikit-learn (``pip install "fastdl[tune]"``); ``import fastdl`` does not import it.

Example::

    from sklearn.model_selection import cross_val_score
    from fastdl.estimator import NeuralNetClassifier
    net = NeuralNetClassifier(MLP, criterion=fastdl.nn.CrossEntropyLoss, max_epochs=10,
                              lr=0.1, verbose=0)
    cross_val_score(net, X, y, cv=5)
"""
from . import callbacks, dataset  # noqa: F401
from .dataset import ValidSplit
from .net import History, NeuralNet, NeuralNetClassifier, NeuralNetRegressor

__all__ = ["NeuralNet", "NeuralNetClassifier", "NeuralNetRegressor", "History", "ValidSplit",
           "callbacks", "dataset"]
