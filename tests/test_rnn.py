"""RNN/LSTM/GRU layers and cells: NumPy reference, PyTorch twins (state_dict both ways,
outputs and gradients), gradcheck, long sequences, the fused and the Tensor-op paths."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdl
import fastdl.nn as nn
from fastdl.testing import assert_close, gradcheck, use_threads
from fastdl.testing.reference import gru_cell_ref, lstm_cell_ref, rnn_cell_ref, rnn_ref

KINDS = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {})]
KIND_IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
MODE = {"rnn_tanh": "RNN_TANH", "rnn_relu": "RNN_RELU", "lstm": "LSTM", "gru": "GRU"}



pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _torch():
    return pytest.importorskip("torch")


def _require_tensor_ops():
    """The cells and the fused=False path are built from F.sigmoid/tanh/relu (the activation
    family); skip until those are on main."""
    import fastdl.nn.functional as F
    missing = [n for n in ("sigmoid", "tanh", "relu") if not callable(getattr(F, n, None))]
    if missing:
        pytest.skip(f"F.{', F.'.join(missing)} not available yet")


def _np_state(m):
    return {k: v.detach().numpy() for k, v in m.state_dict().items()}


def _loss_f(out, lstm):
    """A scalar using every output (so every gradient path is exercised)."""
    y, h = out
    if lstm:
        h, c = h
        return (y * y).sum() + (h * 3.0).sum() + (c * c).sum()
    return (y * y).sum() + (h * 3.0).sum()


def _twins(kind, kw, torch, dtype=np.float64, **layer_kw):
    tm = getattr(torch.nn, kind)(**kw, **layer_kw)
    fm = getattr(nn, kind)(**kw, **layer_kw)
    if dtype == np.float64:
        tm.double()
        fm.double()
    fm.load_state_dict(_np_state(tm))
    return tm, fm


def _compare_with_torch(tm, fm, x, lstm, hx=None, rtol=1e-9, atol=1e-10):
    torch = _torch()
    tx = torch.tensor(x, requires_grad=True)
    fx = fastdl.tensor(x, requires_grad=True)
    targs = () if hx is None else ((tuple(torch.tensor(h) for h in hx) if lstm
                                    else torch.tensor(hx)),)
    fargs = () if hx is None else ((tuple(fastdl.tensor(h) for h in hx) if lstm
                                    else fastdl.tensor(hx)),)
    to, fo = tm(tx, *targs), fm(fx, *fargs)
    assert_close(fo[0], to[0].detach().numpy(), rtol=rtol, atol=atol)
    tl, fl = _loss_f(to, lstm), _loss_f(fo, lstm)
    tm.zero_grad()
    tl.backward()
    fm.zero_grad()
    fl.backward()
    assert_close(fx.grad, tx.grad.numpy(), rtol=rtol, atol=atol, msg="input grad: ")
    fp = dict(fm.named_parameters())
    for n, p in tm.named_parameters():
        assert_close(fp[n].grad, p.grad.numpy(), rtol=rtol, atol=atol, msg=f"{n}: ")
    return fo


@pytest.mark.parametrize("kind,kw", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "tensor_ops"])
def test_layer_matches_torch_forward_and_backward(kind, kw, bidirectional, fused, rng):
    torch = _torch()
    lstm = kind == "LSTM"
    tm, fm = _twins(kind, kw, torch, input_size=5, hidden_size=7, num_layers=2,
                    bidirectional=bidirectional)
    if not fused:
        _require_tensor_ops()
    fm._fused = fused
    assert list(fm.state_dict()) == list(tm.state_dict())
    D = 2 if bidirectional else 1
    x = rng.standard_normal((6, 3, 5))
    h0 = rng.standard_normal((2 * D, 3, 7))
    hx = (h0, rng.standard_normal((2 * D, 3, 7))) if lstm else h0
    _compare_with_torch(tm, fm, x, lstm, hx)
    _compare_with_torch(tm, fm, x, lstm)  # zero initial state


@pytest.mark.parametrize("kind,kw", KINDS, ids=KIND_IDS)
def test_layer_float32_batch_first_no_bias(kind, kw, rng):
    torch = _torch()
    lstm = kind == "LSTM"
    tm, fm = _twins(kind, kw, torch, np.float32, input_size=4, hidden_size=8, bias=False,
                    batch_first=True)
    assert "bias_ih_l0" not in fm.state_dict()
    x = rng.standard_normal((3, 9, 4)).astype(np.float32)
    fo = _compare_with_torch(tm, fm, x, lstm, rtol=1e-4, atol=1e-5)
    assert fo[0].shape == (3, 9, 8) and fo[0].dtype == np.float32


@pytest.mark.parametrize("kind,kw", KINDS, ids=KIND_IDS)
def test_layer_matches_numpy_reference(kind, kw, rng):
    lstm = kind == "LSTM"
    m = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=True, **kw)
    m.double()
    x = rng.standard_normal((2, 5, 3))
    h0 = rng.standard_normal((4, 2, 4))
    c0 = rng.standard_normal((4, 2, 4))
    out = m(fastdl.tensor(x), (fastdl.tensor(h0), fastdl.tensor(c0)) if lstm
            else fastdl.tensor(h0))
    mode = MODE[KIND_IDS[KINDS.index((kind, kw))]]
    ref = rnn_ref(mode, _np_state(m), x, h0, c0, num_layers=2, bidirectional=True,
                  batch_first=True)
    assert_close(out[0], ref[0])
    if lstm:
        assert_close(out[1][0], ref[1])
        assert_close(out[1][1], ref[2])
    else:
        assert_close(out[1], ref[1])


@pytest.mark.parametrize("kind,kw", KINDS, ids=KIND_IDS)
def test_layer_gradcheck(kind, kw, rng):
    lstm = kind == "LSTM"
    m = getattr(nn, kind)(2, 3, bidirectional=True, **kw).double()
    x = fastdl.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = fastdl.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    c0 = fastdl.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    params = [m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0, m.weight_hh_l0_reverse]

    def fn(x, h0, c0, *ps):
        out = m(x, (h0, c0) if lstm else h0)
        return (out[0], *out[1]) if lstm else out

    ins = [x, h0, c0 if lstm else fastdl.tensor(np.zeros(1))] + params
    assert gradcheck(fn, ins, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("kind,kw", KINDS, ids=KIND_IDS)
def test_long_sequence_backward_matches_torch(kind, kw, rng):
    """300 steps: no recursion limit, finite, equal to PyTorch; the Tensor-op path (a graph
    of thousands of nodes) equal to the fused one."""
    torch = _torch()
    lstm = kind == "LSTM"
    tm, fm = _twins(kind, kw, torch, input_size=3, hidden_size=6)
    x = rng.standard_normal((300, 2, 3)) * 0.5
    fo = _compare_with_torch(tm, fm, x, lstm, rtol=1e-7, atol=1e-9)
    assert np.isfinite(fo[0].detach().numpy()).all()
    grads = {n: p.grad.numpy().copy() for n, p in fm.named_parameters()}
    _require_tensor_ops()
    fm._fused = False
    fm.zero_grad()
    fx = fastdl.tensor(x, requires_grad=True)
    out = fm(fx)
    _loss_f(out, lstm).backward()
    assert_close(out[0], fo[0].detach(), rtol=1e-9, atol=1e-12)
    for n, p in fm.named_parameters():
        assert_close(p.grad, grads[n], rtol=1e-7, atol=1e-10, msg=n)


@pytest.mark.parametrize("kind,kw", KINDS, ids=KIND_IDS)
def test_state_dict_into_torch_and_unbatched(kind, kw, rng):
    torch = _torch()
    lstm = kind == "LSTM"
    fm = getattr(nn, kind)(4, 5, num_layers=2, **kw)
    tm = getattr(torch.nn, kind)(4, 5, num_layers=2, **kw)
    tm.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                        for k, v in fm.state_dict().items()})
    x = rng.standard_normal((7, 4)).astype(np.float32)   # unbatched (T, in)
    to, fo = tm(torch.tensor(x)), fm(fastdl.tensor(x))
    assert fo[0].shape == (7, 5)
    assert_close(fo[0], to[0].detach().numpy(), rtol=1e-5, atol=1e-6)
    th, fh = (to[1][1], fo[1][1]) if lstm else (to[1], fo[1])
    assert fh.shape == (2, 5)
    assert_close(fh, th.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert repr(fm) == repr(tm)


def test_repr_matches_torch():
    torch = _torch()
    for args, kw in [((10, 20, 2), {"batch_first": True, "dropout": 0.5}),
                     ((3, 4), {"bidirectional": True, "bias": False}),
                     ((3, 4), {"nonlinearity": "relu"})]:
        kind = "RNN" if "nonlinearity" in kw else "LSTM"
        assert repr(getattr(nn, kind)(*args, **kw)) == repr(getattr(torch.nn, kind)(*args, **kw))
    assert repr(nn.GRUCell(3, 4, bias=False)) == repr(torch.nn.GRUCell(3, 4, bias=False))
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == \
        repr(torch.nn.RNNCell(3, 4, nonlinearity="relu"))


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch_and_reference(kind, rng):
    torch = _torch()
    _require_tensor_ops()
    lstm = kind == "LSTMCell"
    tm = getattr(torch.nn, kind)(3, 4).double()
    fm = getattr(nn, kind)(3, 4).double()
    assert [n for n, _ in fm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    fm.load_state_dict(_np_state(tm))
    x = rng.standard_normal((2, 3))
    h, c = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    tx, fx = torch.tensor(x, requires_grad=True), fastdl.tensor(x, requires_grad=True)
    if lstm:
        to = tm(tx, (torch.tensor(h), torch.tensor(c)))
        fo = fm(fx, (fastdl.tensor(h), fastdl.tensor(c)))
        tl, fl = (to[0] ** 2).sum() + to[1].sum(), (fo[0] ** 2).sum() + fo[1].sum()
    else:
        to, fo = tm(tx, torch.tensor(h)), fm(fx, fastdl.tensor(h))
        tl, fl = (to ** 2).sum(), (fo ** 2).sum()
    tl.backward()
    fl.backward()
    assert_close(fx.grad, tx.grad.numpy())
    for n, p in tm.named_parameters():
        assert_close(dict(fm.named_parameters())[n].grad, p.grad.numpy(), msg=n)
    p = _np_state(fm)
    args = (p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    if lstm:
        rh, rc = lstm_cell_ref(x, h, c, *args)
        assert_close(fo[0], rh)
        assert_close(fo[1], rc)
    elif kind == "GRUCell":
        assert_close(fo, gru_cell_ref(x, h, *args))
    else:
        assert_close(fo, rnn_cell_ref(x, h, *args))
    # unbatched input and default zero state
    y = fm(fastdl.tensor(x[0]))
    assert (y[0] if lstm else y).shape == (4,)
    x0 = fastdl.tensor(x, requires_grad=True)
    assert gradcheck(lambda x0: fm(x0)[0] if lstm else fm(x0), [x0])


def test_init_bounds_dtype_and_to_float64():
    fastdl.manual_seed(1)
    m = nn.GRU(8, 16, num_layers=2)
    bound = 1 / 4.0
    for n, p in m.named_parameters():
        assert p.dtype == np.float32
        assert np.abs(p.detach().numpy()).max() <= bound, n
    assert m.weight_ih_l1.shape == (48, 16) and m.weight_hh_l0.shape == (48, 16)
    m.to("float64")
    out, h = m(fastdl.randn(3, 2, 8, dtype=fastdl.float64))
    assert out.dtype == np.float64 and h.shape == (2, 2, 16)
    fastdl.manual_seed(1)
    assert np.array_equal(nn.GRU(8, 16, num_layers=2).weight_hh_l1.detach().numpy(),
                          m.weight_hh_l1.detach().numpy().astype(np.float32))


def test_dropout_between_layers_only_in_training():
    import fastdl.nn.functional as F
    if not callable(getattr(F, "dropout", None)):
        pytest.skip("F.dropout not available yet")
    m = nn.LSTM(3, 4, num_layers=3, dropout=0.5)
    x = fastdl.randn(5, 2, 3)
    m.eval()
    a = m(x)[0].detach().numpy()
    m.dropout = 0.0
    b = m(x)[0].detach().numpy()
    assert np.array_equal(a, b)            # eval: dropout off
    m.dropout = 0.5
    m.train()
    fastdl.manual_seed(5)
    c = m(x)[0].detach().numpy()
    fastdl.manual_seed(5)
    d = m(x)[0].detach().numpy()
    assert not np.allclose(a, c)           # training: dropout between layers changes it
    assert np.array_equal(c, d)            # and the seed makes it reproducible


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("B", [8, 70])   # one chunk of rows; three chunks (32, 32, 6)
def test_bitwise_equal_for_1_and_2_threads_and_chunks_correct(kind, B, rng):
    m = getattr(nn, kind)(16, 24, bidirectional=True)
    x = fastdl.tensor(rng.standard_normal((9, B, 16)).astype(np.float32))
    res = []
    for n in (1, 2):
        with use_threads(n):
            m.zero_grad()
            out, h = m(x)
            h = h[0] if kind == "LSTM" else h
            ((out * out).sum() + h.sum()).backward()
            res.append([out.detach().numpy().copy()] +
                       [p.grad.numpy().copy() for p in m.parameters()])
    for a, b in zip(*res):
        assert np.array_equal(a, b)
    # every chunk of rows computes what the whole batch does row by row (the Tensor-op path)
    _require_tensor_ops()
    m._fused = False
    m.zero_grad()
    out, h = m(x)
    h = h[0] if kind == "LSTM" else h
    ((out * out).sum() + h.sum()).backward()
    assert_close(out, res[0][0], rtol=1e-5, atol=1e-6)
    for p, g in zip(m.parameters(), res[0][1:]):
        assert_close(p.grad, g, rtol=1e-4, atol=1e-4)


def test_errors():
    m = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match="input_size=3"):
        m(fastdl.randn(5, 2, 4))
    with pytest.raises(ValueError, match="h0 of shape"):
        m(fastdl.randn(5, 2, 3), (fastdl.zeros(1, 2, 4), fastdl.zeros(2, 2, 4)))
    with pytest.raises(TypeError, match="tuple"):
        m(fastdl.randn(5, 2, 3), fastdl.zeros(2, 2, 4))
    with pytest.raises(TypeError, match="float64"):
        m(fastdl.randn(5, 2, 3, dtype=fastdl.float64))
    with pytest.raises(ValueError, match="3-D"):
        m(fastdl.randn(5))
    with pytest.raises(ValueError, match="sequence length"):
        m(fastdl.randn(0, 2, 3))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        nn.GRU(3, 0)
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="input_size"):
        nn.GRUCell(3, 4)(fastdl.randn(2, 5))


@settings(max_examples=10, deadline=None)
@given(kind=st.sampled_from(["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]), T=st.integers(1, 6),
       B=st.integers(1, 3), H=st.integers(1, 5), layers=st.integers(1, 2),
       bidir=st.booleans())
def test_fused_equals_tensor_ops_property(kind, T, B, H, layers, bidir):
    _require_tensor_ops()
    rng = np.random.default_rng(T * 100 + B * 10 + H)
    cls = {"RNN_TANH": nn.RNN, "RNN_RELU": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[kind]
    kw = {"nonlinearity": "relu"} if kind == "RNN_RELU" else {}
    m = cls(2, H, num_layers=layers, bidirectional=bidir, **kw).double()
    x = rng.standard_normal((T, B, 2))
    grads = []
    for fused in (True, False):
        m._fused = fused
        m.zero_grad()
        fx = fastdl.tensor(x, requires_grad=True)
        out = m(fx)
        _loss_f(out, kind == "LSTM").backward()
        grads.append([out[0].detach().numpy(), fx.grad.numpy()] +
                     [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*grads):
        assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind,kw", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("use", ["output_only", "state_only"])
def test_fused_kernel_float32_every_isa(kind, kw, use, isa, rng):
    """The C++ recurrence on every ISA path, float32, H with full vectors and a tail, and
    losses that leave the output or the final state without a gradient."""
    torch = _torch()
    lstm = kind == "LSTM"
    fm = getattr(nn, kind)(5, 37, bidirectional=True, **kw)
    tm = getattr(torch.nn, kind)(5, 37, bidirectional=True, **kw).double()
    tm.load_state_dict({k: torch.from_numpy(v.numpy().astype(np.float64))
                        for k, v in fm.state_dict().items()})
    x = rng.standard_normal((6, 4, 5)).astype(np.float32)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    fx = fastdl.tensor(x, requires_grad=True)
    to, fo = tm(tx), fm(fx)

    def loss(o):
        if use == "output_only":
            return (o[0] * o[0]).sum()
        return (o[1][1] * 2).sum() if lstm else (o[1] * 2).sum()

    loss(to).backward()
    loss(fo).backward()
    assert_close(fo[0], to[0].detach().numpy().astype(np.float32), rtol=1e-4, atol=1e-5)
    assert_close(fx.grad, tx.grad.numpy().astype(np.float32), rtol=1e-4, atol=1e-5)
    fp = dict(fm.named_parameters())
    for n, p in tm.named_parameters():
        assert_close(fp[n].grad, p.grad.numpy().astype(np.float32), rtol=1e-4, atol=1e-5,
                     msg=n)


def test_rnn_binding_validates_arguments():
    from fastdl import _C
    f32 = np.float32
    xp = np.zeros((3, 2, 8), f32)
    w = np.zeros((8, 2), f32)
    h0 = np.zeros((2, 2), f32)
    with pytest.raises(ValueError, match="mode"):
        _C.rnn_forward(7, xp, w, None, h0, None, False)
    with pytest.raises(ValueError, match="LSTM needs c0"):
        _C.rnn_forward(2, xp, w, None, h0, None, False)
    with pytest.raises(ValueError, match=r"h0 has shape \(3, 2\)"):
        _C.rnn_forward(2, xp, w, None, np.zeros((3, 2), f32), h0, False)
    with pytest.raises(ValueError, match="xp has shape"):
        _C.rnn_forward(3, xp, np.zeros((6, 2), f32), None, h0, None, False)
    with pytest.raises(ValueError, match="T >= 1"):
        _C.rnn_forward(2, np.zeros((0, 2, 8), f32), w, None, h0, h0, False)
    with pytest.raises(TypeError, match="b_hh is float64"):
        _C.rnn_forward(2, xp, w, np.zeros(8), h0, h0, False)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.rnn_forward(2, xp, w, None, np.zeros((2, 4), f32)[:, ::2], h0, False)
    hs, cs, acts, aux, aux2 = _C.rnn_forward(2, xp, w, None, h0, h0, False)
    assert hs.shape == (4, 2, 2) and aux2 is None
    with pytest.raises(ValueError, match="acts is required"):
        _C.rnn_backward(2, w, hs, cs, None, aux, None, None, None, None, False)
    with pytest.raises(ValueError, match="gout has shape"):
        _C.rnn_backward(2, w, hs, cs, acts, aux, None, np.zeros((2, 2, 2), f32), None, None,
                        False)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_empty_batch(kind):
    m = getattr(nn, kind)(3, 2, bidirectional=True)
    x = fastdl.randn(4, 0, 3, requires_grad=True)
    out = m(x)[0]
    assert out.shape == (4, 0, 4)
    out.sum().backward()
    assert x.grad.shape == (4, 0, 3)
    assert np.all(m.weight_hh_l0.grad.numpy() == 0)


@pytest.mark.parametrize("bidirectional,layers,batch_first", [(False, 1, False),
                                                              (True, 2, True)])
def test_lstm_proj_size_against_torch(bidirectional, layers, batch_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = torch.nn.LSTM(5, 8, layers, batch_first=batch_first, bidirectional=bidirectional,
                      proj_size=3).double()
    f = fastdl.nn.LSTM(5, 8, layers, batch_first=batch_first, bidirectional=bidirectional,
                       proj_size=3, dtype=np.float64)
    sd = {k: v.detach().numpy() for k, v in t.state_dict().items()}
    assert sorted(sd) == sorted(f.state_dict())
    f.load_state_dict(sd)
    rng = np.random.default_rng(0)
    D, B = (2 if bidirectional else 1), 4 if batch_first else 6
    x = rng.standard_normal((4, 6, 5))
    h0 = rng.standard_normal((layers * D, B, 3))
    c0 = rng.standard_normal((layers * D, B, 8))
    xt = torch.from_numpy(x).requires_grad_()
    ot, (ht, ct) = t(xt, (torch.from_numpy(h0), torch.from_numpy(c0)))
    xf = fastdl.tensor(x, requires_grad=True)
    of, (hf, cf) = f(xf, (fastdl.tensor(h0), fastdl.tensor(c0)))
    assert of.shape == tuple(ot.shape) and hf.shape == tuple(ht.shape)
    (ot.sum() + 2 * ht.sum() + ct.sum()).backward()
    (of.sum() + 2 * hf.sum() + cf.sum()).backward()
    for a, b in ((of, ot), (hf, ht), (cf, ct)):
        assert_close(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-13)
    assert_close(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-13)
    for n in sd:
        assert_close(getattr(f, n).grad.numpy(), getattr(t, n).grad.numpy(), rtol=1e-11,
                     atol=1e-12, msg=n)


def test_proj_size_errors():
    with pytest.raises(ValueError, match="only supported for LSTM"):
        fastdl.nn.RNNBase("GRU", 4, 8, proj_size=2)
    with pytest.raises(ValueError, match="smaller than hidden_size"):
        fastdl.nn.LSTM(4, 8, proj_size=8)
    m = fastdl.nn.LSTM(4, 8, proj_size=2)
    with pytest.raises(ValueError, match="h0"):
        m(fastdl.randn(3, 2, 4), (fastdl.zeros(1, 2, 8), fastdl.zeros(1, 2, 8)))
    assert m(fastdl.randn(3, 2, 4))[0].shape == (3, 2, 2)
