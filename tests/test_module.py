"""nn.Module, Parameter, containers and nn.init (independent of any layer kernel)."""
import math

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn import init
from fastdl.testing import assert_close


class Affine(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.w = nn.Parameter(fastdl.ones(n))
        self.b = nn.Parameter(fastdl.zeros(n))
        self.register_buffer("count", fastdl.zeros(1, dtype=fastdl.int64))
        self.register_buffer("tmp", fastdl.zeros(1), persistent=False)

    def forward(self, x):
        return x * self.w + self.b


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Affine(3)
        self.seq = nn.Sequential(Affine(3), Affine(3))
        self.heads = nn.ModuleList([Affine(3)])
        self.named = nn.ModuleDict({"x": Affine(3)})

    def forward(self, x):
        return self.named["x"](self.heads[0](self.seq(self.a(x))))


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["a.w", "a.b", "seq.0.w", "seq.0.b", "seq.1.w", "seq.1.b", "heads.0.w",
                     "heads.0.b", "named.x.w", "named.x.b"]
    assert len(list(net.parameters())) == 10
    assert [n for n, _ in net.named_buffers()][:2] == ["a.count", "a.tmp"]
    assert len(list(net.children())) == 4 and len(list(net.modules())) == 9
    sd = net.state_dict()
    assert "a.count" in sd and "a.tmp" not in sd and len(sd) == 15
    assert all(not v.requires_grad for v in sd.values())


def test_forward_backward_zero_grad():
    net = Net()
    y = net(fastdl.tensor([1.0, 2.0, 3.0])).sum()
    y.backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_train_eval_apply_repr():
    net = Net()
    net.eval()
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Affine") == 5
    r = repr(net)
    assert "(seq): Sequential(" in r and "(0): Affine()" in r


def test_state_dict_round_trip_and_errors():
    a, b = Net(), Net()
    with fastdl.no_grad():
        for p in a.parameters():
            p.add_(fastdl.randn(*p.shape))
    b.load_state_dict(a.state_dict())
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert_close(p.detach(), q.detach())
    sd = a.state_dict()
    sd.pop("a.w")
    with pytest.raises(KeyError, match="a.w"):
        b.load_state_dict(sd)
    missing, unexpected = b.load_state_dict(sd, strict=False)
    assert missing == ["a.w"] and unexpected == []
    sd = a.state_dict()
    sd["a.b"] = fastdl.zeros(4)
    with pytest.raises(ValueError, match=r"'a.b' has shape \(4,\)"):
        b.load_state_dict(sd)


@pytest.mark.parametrize("dt", [fastdl.float64, np.float64, "float64"])
def test_to_dtype(dt):
    net = Net().to(dt)
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.a.count.dtype == np.int64
    y = net(fastdl.tensor(np.ones(3))).sum()
    y.backward()
    assert net.a.w.grad.dtype == np.float64
    with pytest.raises(TypeError):
        net.to("int64")


def test_assignment_type_errors():
    m = Affine(2)
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = fastdl.ones(2)
    m.w = None
    assert "w" not in dict(m.named_parameters())
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        m.nothing


def test_sequential_indexing():
    s = nn.Sequential(Affine(2), Affine(2), Affine(2))
    assert len(s) == 3 and isinstance(s[1], Affine) and len(s[1:]) == 2
    s.append(Affine(2))
    assert len(s) == 4


# ---- init ----------------------------------------------------------------------------------

def test_fans_and_gain():
    w = fastdl.empty(16, 6, 5, 5)
    assert init._calculate_fan_in_and_fan_out(w) == (150, 400)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("nope")
    with pytest.raises(ValueError, match="fewer than 2"):
        init._calculate_fan_in_and_fan_out(fastdl.empty(3))


@pytest.mark.parametrize("fn,bound", [
    (lambda w: init.kaiming_uniform_(w, a=math.sqrt(5)), math.sqrt(6 / 6) / math.sqrt(256)),
    (lambda w: init.xavier_uniform_(w), math.sqrt(6 / (256 + 300))),
    (lambda w: init.uniform_(w, -0.3, 0.3), 0.3),
])
def test_uniform_inits_bounds(fn, bound):
    w = nn.Parameter(fastdl.empty(300, 256))
    fn(w)
    a = w.detach().numpy()
    assert np.abs(a).max() <= bound * (1 + 1e-6) and np.abs(a).max() > 0.95 * bound
    assert abs(a.std() - bound / math.sqrt(3)) < 0.02 * bound


@pytest.mark.parametrize("fn,std", [
    (lambda w: init.kaiming_normal_(w, nonlinearity="relu"), math.sqrt(2 / 256)),
    (lambda w: init.xavier_normal_(w), math.sqrt(2 / (256 + 300))),
    (lambda w: init.normal_(w, 0, 0.02), 0.02),
])
def test_normal_inits_std(fn, std):
    w = nn.Parameter(fastdl.empty(300, 256))
    fn(w)
    assert abs(w.detach().numpy().std() - std) < 0.03 * std


def test_constant_orthogonal_seed():
    w = nn.Parameter(fastdl.empty(5, 7))
    init.constant_(w, 0.5)
    assert (w.detach().numpy() == 0.5).all()
    init.zeros_(w)
    assert not w.detach().numpy().any()
    init.orthogonal_(w, gain=2.0)
    a = w.detach().numpy().astype(np.float64)
    assert_close(a @ a.T, 4 * np.eye(5), atol=1e-5, rtol=1e-5)
    fastdl.manual_seed(3)
    init.normal_(w)
    first = w.detach().numpy().copy()
    fastdl.manual_seed(3)
    init.normal_(w)
    assert np.array_equal(first, w.detach().numpy())
    with pytest.raises(TypeError, match="floating"):
        init.normal_(fastdl.zeros(3, dtype=fastdl.int64))


def test_parameter_list_and_dict():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.pl = nn.ParameterList([nn.Parameter(np.ones(2)), np.zeros(3)])
            self.pd = nn.ParameterDict({"a": np.ones(1)})
            self.pl.append(fastdl.tensor(np.full(4, 2.0)))
            self.pd["b"] = nn.Parameter(np.zeros((2, 2)))

    m = M()
    assert sorted(m.state_dict()) == ["pd.a", "pd.b", "pl.0", "pl.1", "pl.2"]
    assert len(list(m.parameters())) == 5 and len(m.pl) == 3 and "b" in m.pd
    assert all(isinstance(p, nn.Parameter) for p in m.pl)
    assert m.pl[2].shape == (4,) and len(m.pl[1:]) == 2
    # gradients flow and an optimizer updates them
    loss = (m.pl[0] * 3).sum() + (m.pd["a"] * m.pl[2].sum()).sum()
    loss.backward()
    assert np.allclose(m.pl[0].grad.numpy(), 3) and np.allclose(m.pd["a"].grad.numpy(), 8)
    fastdl.optim.SGD(m.parameters(), lr=0.5).step()
    assert np.allclose(m.pl[0]._array, -0.5)
    del m.pd["b"]
    assert list(m.pd.keys()) == ["a"]
    with pytest.raises(TypeError, match="expected a Parameter"):
        nn.ParameterList(["nope"])
    torch = pytest.importorskip("torch")
    tl = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2)),
                                 torch.nn.Parameter(torch.zeros(3))])
    fl = nn.ParameterList([np.zeros(2), np.ones(3)])
    fl.load_state_dict({k: v.detach().numpy() for k, v in tl.state_dict().items()})
    assert np.array_equal(fl[0]._array, np.ones(2))
