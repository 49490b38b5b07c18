"""Complete training scripts, runnable as modules (copies live in the repository's
``examples/`` folder):

* ``python -m fastdl.examples.train_lenet``: a LeNet-5-style CNN on MNIST (the main job:
  Adam, one-cycle learning-rate schedule, early stopping, progress bar, weights and a plot
  of the curves saved into ``--out``).
* ``python -m fastdl.examples.train_rnn``: a GRU reading digit images row by row.
* ``python -m fastdl.examples.train_mlp``: an MLP trained with SGD + Nesterov momentum.

Each prints its final metric on its last line and accepts ``--help``. Their ``main(argv)``
returns a dict with the history, so they can be driven from Python too::

    from fastdl.examples import train_lenet
    result = train_lenet.main(["--epochs", "1", "--dataset", "digits"])
"""
