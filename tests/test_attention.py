"""scaled_dot_product_attention, MultiheadAttention and TransformerEncoderLayer: NumPy
references, PyTorch twins (outputs and gradients, masks of every kind), gradcheck, Module
features."""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck
from fastdl.testing.reference import mha_ref, sdpa_ref, transformer_encoder_layer_ref



pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _torch():
    torch = pytest.importorskip("torch")
    return torch


def _require_encoder_deps(*extra):
    """TransformerEncoderLayer needs LayerNorm, Dropout and the activations (other families);
    skip until they are on main."""
    missing = [f"F.{n}" for n in ("relu", "dropout", "layer_norm") + extra
               if not callable(getattr(F, n, None))]
    missing += [f"nn.{n}" for n in ("LayerNorm", "Dropout") if not hasattr(nn, n)]
    if missing:
        pytest.skip(f"{', '.join(missing)} not available yet")


def _np_state(m):
    return {k: v.detach().numpy() for k, v in m.state_dict().items()}


def _causal_bool(L, S):
    return np.triu(np.ones((L, S), bool), 1)   # True above the diagonal = blocked


# ------------------------------------------------------------------ scaled_dot_product_attention

@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal"])
def test_sdpa_matches_reference_and_torch(mask_kind, rng):
    torch = _torch()
    q = rng.standard_normal((2, 3, 5, 4))
    k = rng.standard_normal((2, 3, 7, 4))
    v = rng.standard_normal((2, 3, 7, 6))
    mask = None
    add = None
    if mask_kind == "bool":
        mask = rng.random((5, 7)) > 0.3
        mask[:, 0] = True
        add = np.where(mask, 0.0, -np.inf)
    elif mask_kind == "float":
        mask = rng.standard_normal((2, 1, 5, 7))
        add = mask
    elif mask_kind == "causal":
        add = np.where(_causal_bool(5, 7), -np.inf, 0.0)
    causal = mask_kind == "causal"
    fq, fk, fv = [fastdl.tensor(a, requires_grad=True) for a in (q, k, v)]
    tq, tk, tv = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    fo = F.scaled_dot_product_attention(fq, fk, fv, attn_mask=mask, is_causal=causal)
    to = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=None if mask is None else torch.tensor(mask), is_causal=causal)
    assert_close(fo, sdpa_ref(q, k, v, add)[0])
    assert_close(fo, to.detach().numpy())
    g = rng.standard_normal(fo.shape)
    fo.backward(fastdl.tensor(g))
    to.backward(torch.tensor(g))
    for a, b in ((fq, tq), (fk, tk), (fv, tv)):
        assert_close(a.grad, b.grad.numpy())


def test_sdpa_float32_scale_and_fully_masked_rows(rng):
    q = rng.standard_normal((4, 3)).astype(np.float32)
    k = rng.standard_normal((5, 3)).astype(np.float32)
    v = rng.standard_normal((5, 2)).astype(np.float32)
    mask = np.ones((4, 5), bool)
    mask[2] = False                             # query 2 may attend to nothing
    out = F.scaled_dot_product_attention(fastdl.tensor(q), fastdl.tensor(k), fastdl.tensor(v),
                                         attn_mask=mask, scale=0.7)
    assert out.dtype == np.float32
    assert np.all(out.numpy()[2] == 0)          # zeros, as PyTorch's SDPA gives, not NaN
    ref = sdpa_ref(q.astype(np.float64), k, v, np.where(mask, 0.0, -np.inf), scale=0.7)[0]
    assert_close(out, ref.astype(np.float32), rtol=1e-5)


def test_sdpa_gradcheck_including_float_mask(rng):
    q = fastdl.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    k = fastdl.tensor(rng.standard_normal((2, 4, 2)), requires_grad=True)
    v = fastdl.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    m = fastdl.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                     [q, k, v, m])
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                     [q, k, v])


def test_sdpa_dropout_is_seeded_and_errors(rng):
    q = fastdl.randn(1, 6, 4)
    k = fastdl.randn(1, 6, 4)
    v = fastdl.randn(1, 6, 4)
    fastdl.manual_seed(2)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    fastdl.manual_seed(2)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    c = F.scaled_dot_product_attention(q, k, v).numpy()
    assert np.array_equal(a, b) and not np.allclose(a, c)
    with pytest.raises(ValueError, match="do not fit"):
        F.scaled_dot_product_attention(q, fastdl.randn(1, 6, 5), v)
    with pytest.raises(ValueError, match="broadcast"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 6), bool))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((6, 6), bool),
                                       is_causal=True)
    with pytest.raises(ValueError, match="dropout_p"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)


# ------------------------------------------------------------------ MultiheadAttention

def _mha_masks(kind, rng, N, h, L, S):
    """(attn_mask, key_padding_mask) numpy pairs of one kind (same type, as torch wants)."""
    if kind == "none":
        return None, None
    kp = np.zeros((N, S), bool)
    kp[0, -2:] = True
    if kind == "bool":
        return _causal_bool(L, S), kp
    if kind == "bool3d":
        am = rng.random((N * h, L, S)) > 0.7
        am[..., 0] = False
        return am, kp
    if kind == "float":
        return rng.standard_normal((L, S)), np.where(kp, -np.inf, 0.0)
    raise AssertionError(kind)


@pytest.mark.parametrize("mask_kind", ["none", "bool", "bool3d", "float"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("cross", ["self", "cross", "cross_kdim"])
def test_mha_matches_torch_and_reference(mask_kind, batch_first, cross, rng):
    torch = _torch()
    cross_kdim = cross == "cross_kdim"
    cross = cross != "self"
    E, h, L, S, N = 8, 2, 5, (6 if cross else 5), 3
    kd = 4 if cross_kdim else None
    tm = torch.nn.MultiheadAttention(E, h, kdim=kd, vdim=kd, batch_first=batch_first).double()
    fm = nn.MultiheadAttention(E, h, kdim=kd, vdim=kd, batch_first=batch_first).double()
    assert list(fm.state_dict()) == list(tm.state_dict())
    with torch.no_grad():
        tm.in_proj_bias.normal_()           # non-zero biases so they are really checked
        tm.out_proj.bias.normal_()
    fm.load_state_dict(_np_state(tm))
    q = rng.standard_normal((L, N, E))
    if cross:
        k, v = rng.standard_normal((S, N, kd or E)), rng.standard_normal((S, N, kd or E))
    else:
        k = v = q
    am, kp = _mha_masks(mask_kind, rng, N, h, L, S)
    ref_out, ref_w = mha_ref(_np_state(fm), q, k, v, h, kp, am)
    if batch_first:
        q, k, v = (a.transpose(1, 0, 2).copy() for a in (q, k, v))
        ref_out = ref_out.transpose(1, 0, 2)
    tq = torch.tensor(q, requires_grad=True)
    fq = fastdl.tensor(q, requires_grad=True)
    if cross:
        tk, tv = torch.tensor(k, requires_grad=True), torch.tensor(v, requires_grad=True)
        fk, fv = fastdl.tensor(k, requires_grad=True), fastdl.tensor(v, requires_grad=True)
    else:
        tk = tv = tq
        fk = fv = fq
    tkw = {} if am is None else {"attn_mask": torch.tensor(am),
                                 "key_padding_mask": torch.tensor(kp)}
    fkw = {} if am is None else {"attn_mask": am, "key_padding_mask": kp}
    to, tw = tm(tq, tk, tv, average_attn_weights=False, **tkw)
    fo, fw = fm(fq, fk, fv, average_attn_weights=False, **fkw)
    assert_close(fo, to.detach().numpy())
    assert_close(fw, tw.detach().numpy())
    assert_close(fo, ref_out)
    assert_close(fw, ref_w)
    ((to ** 2).sum() + (tw * 3).sum()).backward()
    ((fo ** 2).sum() + (fw * 3).sum()).backward()
    assert_close(fq.grad, tq.grad.numpy())
    if cross:
        assert_close(fk.grad, tk.grad.numpy())
        assert_close(fv.grad, tv.grad.numpy())
    fp = dict(fm.named_parameters())
    for n, p in tm.named_parameters():
        assert_close(fp[n].grad, p.grad.numpy(), msg=n)


def test_mha_weights_options_unbatched_and_float32(rng):
    torch = _torch()
    tm = torch.nn.MultiheadAttention(6, 3)
    fm = nn.MultiheadAttention(6, 3)
    fm.load_state_dict(_np_state(tm))
    x = rng.standard_normal((4, 6)).astype(np.float32)          # unbatched (L, E)
    to, tw = tm(torch.tensor(x), torch.tensor(x), torch.tensor(x))
    fo, fw = fm(fastdl.tensor(x), fastdl.tensor(x), fastdl.tensor(x))
    assert fo.shape == (4, 6) and fw.shape == (4, 4) and fo.dtype == np.float32
    assert_close(fo, to.detach().numpy(), rtol=1e-5)
    assert_close(fw, tw.detach().numpy(), rtol=1e-5)
    out, w = fm(fastdl.tensor(x), fastdl.tensor(x), fastdl.tensor(x), need_weights=False)
    assert w is None
    assert_close(out, fo.detach())
    # initialisation as PyTorch: zero biases, xavier-uniform in_proj
    m = nn.MultiheadAttention(16, 4)
    assert np.all(m.in_proj_bias.detach().numpy() == 0)
    assert np.all(m.out_proj.bias.detach().numpy() == 0)
    assert np.abs(m.in_proj_weight.detach().numpy()).max() <= np.sqrt(6 / (16 + 48))


def test_mha_gradcheck(rng):
    m = nn.MultiheadAttention(4, 2, kdim=3, vdim=2).double()
    q = fastdl.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    k = fastdl.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    v = fastdl.tensor(rng.standard_normal((2, 2, 2)), requires_grad=True)
    kp = np.array([[False, False], [False, True]])
    assert gradcheck(lambda q, k, v, w: m(q, k, v, key_padding_mask=kp),
                     [q, k, v, m.k_proj_weight])


def test_mha_errors_and_repr():
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        nn.MultiheadAttention(8, 2, add_bias_kv=True)
    m = nn.MultiheadAttention(8, 2)
    x = fastdl.randn(5, 3, 8)
    with pytest.raises(ValueError, match="attn_mask should be"):
        m(x, x, x, attn_mask=np.zeros((4, 5), bool))
    with pytest.raises(ValueError, match="key_padding_mask should be"):
        m(x, x, x, key_padding_mask=np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="embedding dim"):
        m(fastdl.randn(5, 3, 6), x, x)
    with pytest.raises(ValueError, match="is_causal"):
        m(x, x, x, is_causal=True)
    assert "embed_dim=8, num_heads=2" in repr(m) and "(out_proj): Linear" in repr(m)
    m.to("float64")
    assert m(x.double(), x.double(), x.double())[0].dtype == np.float64


# ------------------------------------------------------------------ TransformerEncoderLayer

@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("masks", ["none", "causal+padding"])
def test_encoder_layer_matches_torch_and_reference(norm_first, activation, masks, rng):
    torch = _torch()
    _require_encoder_deps(activation)
    kw = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, activation=activation,
              norm_first=norm_first, batch_first=True)
    tm = torch.nn.TransformerEncoderLayer(**kw).double()
    fm = nn.TransformerEncoderLayer(**kw).double()
    assert list(fm.state_dict()) == list(tm.state_dict())
    fm.load_state_dict(_np_state(tm))
    N, L = 3, 5
    x = rng.standard_normal((N, L, 8))
    tkw, fkw, src_mask, kp = {}, {}, None, None
    if masks != "none":
        src_mask = np.where(_causal_bool(L, L), -np.inf, 0.0)
        kp = np.zeros((N, L))
        kp[1, -1] = -np.inf
        tkw = {"src_mask": torch.tensor(src_mask), "src_key_padding_mask": torch.tensor(kp),
               "is_causal": True}
        fkw = {"src_mask": src_mask, "src_key_padding_mask": kp, "is_causal": True}
    tx = torch.tensor(x, requires_grad=True)
    fx = fastdl.tensor(x, requires_grad=True)
    to, fo = tm(tx, **tkw), fm(fx, **fkw)
    assert_close(fo, to.detach().numpy())
    ref = transformer_encoder_layer_ref(_np_state(fm), x.transpose(1, 0, 2), 2, norm_first,
                                        activation, src_mask=src_mask,
                                        src_key_padding_mask=kp)
    assert_close(fo, ref.transpose(1, 0, 2))
    (to ** 2).sum().backward()
    (fo ** 2).sum().backward()
    assert_close(fx.grad, tx.grad.numpy())
    fp = dict(fm.named_parameters())
    for n, p in tm.named_parameters():
        assert_close(fp[n].grad, p.grad.numpy(), msg=n)


def test_encoder_layer_eval_float32_and_module_features(rng):
    torch = _torch()
    _require_encoder_deps()
    tm = torch.nn.TransformerEncoderLayer(8, 2, 32)            # dropout 0.1, seq-first
    fm = nn.TransformerEncoderLayer(8, 2, 32)
    assert [n for n, _ in fm.named_children()] == [n for n, _ in tm.named_children()]
    # state_dict into torch and back
    tm.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                        for k, v in fm.state_dict().items()})
    tm.eval()
    fm.eval()
    x = rng.standard_normal((6, 2, 8)).astype(np.float32)
    with torch.no_grad():
        t_out = tm(torch.tensor(x)).numpy()
    assert_close(fm(fastdl.tensor(x)), t_out, rtol=1e-4, atol=1e-5)
    fm2 = nn.TransformerEncoderLayer(8, 2, 32).eval()
    fm2.load_state_dict(fm.state_dict())
    assert np.array_equal(fm2(fastdl.tensor(x)).detach().numpy(),
                          fm(fastdl.tensor(x)).detach().numpy())
    fm.train()
    fastdl.manual_seed(4)
    a = fm(fastdl.tensor(x)).detach().numpy()
    assert not np.allclose(a, t_out, atol=1e-3)               # dropout active in training
    fm.to("float64")
    assert fm(fastdl.tensor(x.astype(np.float64))).dtype == np.float64
    assert "(self_attn): MultiheadAttention" in repr(fm) and "(norm2): LayerNorm" in repr(fm)
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_transformer_encoder_stack():
    layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
    enc = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(16))
    assert len(enc.layers) == 3
    # deep copies: independent weights
    w0 = enc.layers[0].linear1.weight
    assert w0 is not enc.layers[1].linear1.weight and w0 is not layer.linear1.weight
    x = fastdl.randn(2, 5, 16)
    y = x
    for m in enc.layers:
        y = m(y)
    assert np.allclose(enc(x).detach().numpy(), enc.norm(y).detach().numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="num_layers"):
        nn.TransformerEncoder(layer, 0)
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tl = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
    te = torch.nn.TransformerEncoder(tl, 2, norm=torch.nn.LayerNorm(16),
                                     enable_nested_tensor=False)
    fe = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(16))
    fe.load_state_dict({k: v.detach().numpy() for k, v in te.state_dict().items()})
    xs = np.random.default_rng(0).standard_normal((2, 5, 16)).astype(np.float32)
    mask = np.triu(np.ones((5, 5), bool), 1)
    got = fe(fastdl.tensor(xs), mask=fastdl.tensor(mask)).detach().numpy()
    want = te(torch.from_numpy(xs), mask=torch.from_numpy(mask)).detach().numpy()
    assert np.allclose(got, want, atol=2e-5)
