"""The example training scripts run end to end on a small subset and learn (the loss falls),
print their metric last, and the LeNet's weights file reloads into an identical model."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastdl

LAST_LINE = re.compile(r"^test accuracy: (0\.\d{4}|1\.0000)$")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastdl.__file__)))  # fastdl's parent
CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # holds examples/


def _dataset_or_skip(name):
    from fastdl.data import datasets
    try:
        (datasets.MNIST if name == "mnist" else datasets.Digits)()
    except ModuleNotFoundError as e:
        pytest.skip(f"{name} data not installed: {e}")


@pytest.fixture(autouse=True)
def _restore_threads():
    """The scripts run with --threads 1 (quick and steady on a busy machine); restore."""
    n = fastdl.get_num_threads()
    yield
    fastdl.set_num_threads(n)


def _falls(batch_losses, k=5, factor=0.85):
    first, last = np.mean(batch_losses[:k]), np.mean(batch_losses[-k:])
    assert last < factor * first, f"loss did not fall: first {first:.3f}, last {last:.3f}"


def _last_line(out):
    lines = [ln for ln in out.strip().splitlines() if ln.strip()]
    assert LAST_LINE.match(lines[-1]), f"last line is {lines[-1]!r}"
    return float(lines[-1].split(":")[1])


@pytest.mark.parametrize("dataset,limit", [("mnist", 1600), ("digits", None)])
def test_train_lenet_learns_and_saves(tmp_path, capsys, dataset, limit):
    _dataset_or_skip(dataset)
    from fastdl.examples import train_lenet
    argv = ["--epochs", "1" if dataset == "mnist" else "3", "--dataset", dataset, "--out",
            str(tmp_path), "--no-progress", "--batch-size", "32", "--lr", "5e-3", "--threads", "1"]
    if limit:
        argv += ["--limit", str(limit)]
    res = train_lenet.main(argv)
    acc = _last_line(capsys.readouterr().out)
    assert acc == round(res["test_accuracy"], 4)
    _falls(res["history"]["batch_loss"])
    assert res["test_accuracy"] > 0.5  # ten classes: chance is 0.1
    # the weights file reloads into a fresh model that scores exactly the same
    assert os.path.exists(res["weights"])
    if res["plot"] is not None:
        with open(res["plot"], "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    _, _, test = train_lenet.load_data(dataset, limit, 0)
    fresh = train_lenet.LeNet5(in_size=test[0][0].shape[-1])
    fresh.load_state_dict(fastdl.load(res["weights"]))
    assert train_lenet.evaluate(fresh, test)[1] == res["test_accuracy"]
    meta = fastdl.io.load_metadata(res["weights"])
    assert meta["model"] == "LeNet5" and meta["dataset"] == dataset
    try:
        from safetensors.numpy import load_file
    except ImportError:
        return
    sd = load_file(res["weights"])
    assert sd["features.0.weight"].shape == tuple(fresh.features[0].weight.shape)


def test_train_lenet_cli_last_line(tmp_path):
    """``python examples/train_lenet.py`` (the runner of ``-m fastdl.examples.train_lenet``)
    in a fresh process: its last line is the test accuracy."""
    _dataset_or_skip("digits")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, os.path.join(CHECKOUT, "examples", "train_lenet.py"),
                        "--dataset", "digits", "--epochs", "1", "--limit", "600",
                        "--out", str(tmp_path), "--threads", "1"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    _last_line(r.stdout)
    assert "time per epoch" in r.stdout
    assert os.path.exists(tmp_path / "lenet_digits.safetensors")


def test_train_lenet_bad_option():
    from fastdl.examples import train_lenet
    with pytest.raises(SystemExit):
        train_lenet.parse_args(["--epochs", "0"])


@pytest.mark.parametrize("dataset,limit", [("mnist", 1600), ("digits", None)])
def test_train_mlp_learns(capsys, dataset, limit):
    _dataset_or_skip(dataset)
    from fastdl.examples import train_mlp
    argv = ["--epochs", "1", "--dataset", dataset, "--no-progress", "--batch-size", "32",
            "--threads", "1"]
    if limit:
        argv += ["--limit", str(limit)]
    res = train_mlp.main(argv)
    _last_line(capsys.readouterr().out)
    _falls(res["history"]["batch_loss"])
    assert res["test_accuracy"] > 0.5


@pytest.mark.parametrize("dataset,limit,cell", [("mnist", 1200, "gru"),
                                                ("digits", None, "lstm")])
def test_train_rnn_learns(capsys, dataset, limit, cell):
    _dataset_or_skip(dataset)
    from fastdl.examples import train_rnn
    argv = ["--epochs", "2", "--dataset", dataset, "--no-progress", "--batch-size", "32",
            "--hidden", "64", "--cell", cell, "--threads", "1"]
    if limit:
        argv += ["--limit", str(limit)]
    res = train_rnn.main(argv)
    _last_line(capsys.readouterr().out)
    _falls(res["history"]["batch_loss"])
    assert res["test_accuracy"] > 0.3
