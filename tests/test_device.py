"""fastdl.device, device= everywhere, the CPU-only RuntimeError, and the accelerator queries
portable scripts make (fastdl.cuda, backends, accelerator) — against torch where installed."""
import pickle

import numpy as np
import pytest

import fastdl
from fastdl import nn

ACCEL = ["cuda", "cuda:0", "mps", "xpu"]


def test_device_objects_match_torch():
    torch = pytest.importorskip("torch")
    for args in (("cpu",), ("cpu", 0), ("cpu:1",)):
        d, t = fastdl.device(*args), torch.device(*args)
        assert (d.type, d.index) == (t.type, t.index)
        assert repr(d) == repr(t) and str(d) == str(t)
    assert fastdl.device(fastdl.device("cpu", 2)) == fastdl.device("cpu:2")


def test_device_equality_hash_pickle():
    d = fastdl.device("cpu")
    assert d == "cpu" and d == fastdl.device("cpu") and d != fastdl.device("cpu", 0)
    assert hash(d) == hash(fastdl.device("cpu"))
    assert pickle.loads(pickle.dumps(d)) == d
    with fastdl.device("cpu"):
        assert fastdl.zeros(1).device == d


@pytest.mark.parametrize("name", ACCEL)
def test_accelerators_are_a_clear_runtime_error(name):
    with pytest.raises(RuntimeError, match="CPU only"):
        fastdl.device(name)
    with pytest.raises(RuntimeError, match="CPU only"):
        fastdl.zeros(2, device=name)
    with pytest.raises(RuntimeError, match="CPU only"):
        fastdl.ones(2).to(name)
    with pytest.raises(RuntimeError, match="CPU only"):
        nn.Linear(2, 2).to(name)
    with pytest.raises(RuntimeError, match="CPU only"):
        nn.Linear(2, 2, device=name)
    with pytest.raises(RuntimeError, match="CPU only"):
        fastdl.tensor([1.0], device=name)


def test_bad_device_strings():
    with pytest.raises(RuntimeError):
        fastdl.device("gpu")
    with pytest.raises(RuntimeError):
        fastdl.device("cpu:x")
    with pytest.raises(TypeError):
        fastdl.device(1.5)
    with pytest.raises(RuntimeError, match="CPU only"):
        fastdl.device(0)  # a bare ordinal names an accelerator in torch


FACTORIES = [
    lambda **k: fastdl.zeros(2, 3, **k), lambda **k: fastdl.ones(2, **k),
    lambda **k: fastdl.empty(2, **k), lambda **k: fastdl.full((2,), 1.0, **k),
    lambda **k: fastdl.arange(3, **k), lambda **k: fastdl.linspace(0, 1, 3, **k),
    lambda **k: fastdl.logspace(0, 1, 3, **k), lambda **k: fastdl.eye(2, **k),
    lambda **k: fastdl.rand(2, **k), lambda **k: fastdl.randn(2, **k),
    lambda **k: fastdl.randint(0, 5, (2,), **k), lambda **k: fastdl.randperm(3, **k),
    lambda **k: fastdl.tensor([1.0], **k), lambda **k: fastdl.as_tensor([1.0], **k),
    lambda **k: fastdl.zeros_like(fastdl.ones(2), **k),
    lambda **k: fastdl.ones_like(fastdl.ones(2), **k),
    lambda **k: fastdl.empty_like(fastdl.ones(2), **k),
    lambda **k: fastdl.full_like(fastdl.ones(2), 3.0, **k),
    lambda **k: fastdl.rand_like(fastdl.ones(2), **k),
    lambda **k: fastdl.randn_like(fastdl.ones(2), **k),
    lambda **k: fastdl.ones(2).new_zeros(3, **k), lambda **k: fastdl.ones(2).new_ones(3, **k),
    lambda **k: fastdl.ones(2).new_empty(3, **k),
    lambda **k: fastdl.ones(2).new_full((3,), 1.0, **k),
    lambda **k: fastdl.ones(2).new_tensor([1.0], **k),
]


@pytest.mark.parametrize("i", range(len(FACTORIES)))
def test_every_factory_takes_device(i):
    f = FACTORIES[i]
    for dev in ("cpu", fastdl.device("cpu"), "cpu:0", None):
        assert f(device=dev).device == fastdl.device("cpu")
    with pytest.raises(RuntimeError, match="CPU only"):
        f(device="cuda")


def test_size_keyword_on_factories_matches_torch():
    torch = pytest.importorskip("torch")
    for name in ("zeros", "ones", "empty", "rand", "randn"):
        assert tuple(getattr(fastdl, name)(size=(2, 3)).shape) == \
            tuple(getattr(torch, name)(size=(2, 3)).shape)
    with pytest.raises(TypeError):
        fastdl.zeros(2, size=(2,))


def test_tensor_to_overloads():
    x = fastdl.ones(2, requires_grad=True)
    assert x.to("cpu") is x and x.cpu() is x and x.to(fastdl.device("cpu")) is x
    y = x.to("cpu", fastdl.float64)
    assert y.dtype is fastdl.float64 and y.requires_grad
    assert x.to(device="cpu", dtype=fastdl.float16).dtype is fastdl.float16
    assert x.to(fastdl.zeros(1, dtype=fastdl.float64)).dtype is fastdl.float64
    assert x.to("cpu", non_blocking=True) is x
    assert x.to(memory_format=fastdl.contiguous_format) is x
    assert x.pin_memory() is x and not x.is_pinned()
    assert not (x.is_cuda or x.is_xpu or x.is_mps) and x.get_device() == -1
    with pytest.raises(RuntimeError, match="CPU only"):
        x.cuda()
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to(devcie="cpu")


def test_module_to_device_and_dtype():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    assert m.to("cpu") is m and m.cpu() is m
    m.to("cpu", fastdl.float64)
    assert {p.dtype for p in m.parameters()} == {fastdl.float64}
    assert m[1].running_mean.dtype is fastdl.float64
    assert m[1].num_batches_tracked.dtype is fastdl.int64  # not floating: untouched
    m.half()
    assert m[0].weight.dtype is fastdl.float16
    m.bfloat16()
    assert m[0].weight.dtype is fastdl.bfloat16
    m.float()
    assert m[0].weight.dtype is fastdl.float32
    m.to(fastdl.zeros(1, dtype=fastdl.float64))
    assert m[0].weight.dtype is fastdl.float64
    m.to(device=fastdl.device("cpu"), dtype=fastdl.float32)
    assert m(fastdl.randn(2, 3)).dtype is fastdl.float32
    with pytest.raises(TypeError, match="floating point"):
        m.to(fastdl.int64)
    with pytest.raises(RuntimeError, match="CPU only"):
        m.cuda()


def test_layer_constructors_accept_device_and_dtype():
    for make in (lambda **k: nn.Linear(2, 3, **k), lambda **k: nn.Conv2d(1, 2, 3, **k),
                 lambda **k: nn.BatchNorm2d(2, **k), lambda **k: nn.LayerNorm(4, **k),
                 lambda **k: nn.Embedding(5, 2, **k), lambda **k: nn.LSTM(2, 3, **k),
                 lambda **k: nn.GRUCell(2, 3, **k), lambda **k: nn.PReLU(**k),
                 lambda **k: nn.GroupNorm(1, 2, **k),
                 lambda **k: nn.MultiheadAttention(4, 2, **k)):
        m = make(device="cpu", dtype=fastdl.float64)
        assert {p.dtype for p in m.parameters()} == {fastdl.float64}
        make(device=fastdl.device("cpu", 0))
        with pytest.raises(RuntimeError, match="CPU only"):
            make(device="cuda")


def test_accelerator_queries():
    assert fastdl.cuda.is_available() is False and fastdl.cuda.device_count() == 0
    fastdl.cuda.manual_seed_all(0)
    fastdl.cuda.manual_seed(0)
    fastdl.cuda.synchronize()
    assert fastdl.backends.mps.is_available() is False
    assert fastdl.accelerator.is_available() is False
    assert fastdl.accelerator.current_accelerator() is None
    old = fastdl.backends.cudnn.benchmark, fastdl.backends.cudnn.deterministic
    fastdl.backends.cudnn.benchmark = True
    fastdl.backends.cudnn.deterministic = True
    assert fastdl.backends.cudnn.benchmark and fastdl.backends.cudnn.deterministic
    fastdl.backends.cudnn.benchmark, fastdl.backends.cudnn.deterministic = old
    with pytest.raises(RuntimeError, match="CPU only"):
        fastdl.cuda.current_device()


def test_portable_device_idiom():
    device = fastdl.device("cuda" if fastdl.cuda.is_available() else "cpu")
    m = nn.Linear(2, 1).to(device)
    x = fastdl.tensor(np.ones((3, 2), np.float32)).to(device)
    assert m(x).device == device
