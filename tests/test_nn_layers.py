"""Transformer (decoder side and full model), RMSNorm, GLU, RReLU, alpha dropout,
pixel/channel shuffle, LocalResponseNorm, gumbel_softmax, EmbeddingBag: PyTorch twins with
PyTorch's weights (outputs, input and parameter gradients, float64), gradcheck, state-dict
round trips, bad arguments."""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck
from fastdl.testing.reference.embag import embedding_bag_ref
from nn_twin import Const, state_dict_round_trip, torch_or_skip, twin, twin_module


def _r(rng, *shape):
    return rng.standard_normal(shape)


# ------------------------------------------------------------------------------ transformer

@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer_matches_torch(norm_first, batch_first, rng):
    torch = torch_or_skip()
    torch.manual_seed(0)
    tm = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=batch_first,
                                          norm_first=norm_first, dtype=torch.float64)
    fm = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=batch_first,
                                    norm_first=norm_first, dtype=fastdl.float64)
    tgt, mem = (_r(rng, 2, 5, 8), _r(rng, 2, 6, 8)) if batch_first else \
        (_r(rng, 5, 2, 8), _r(rng, 6, 2, 8))
    mask = np.triu(np.full((5, 5), -np.inf), 1)
    kpm = np.zeros((2, 6), bool)
    kpm[1, 4:] = True
    from nn_twin import load_torch_weights
    load_torch_weights(fm, tm)
    twin(lambda a, b, m, k: fm(a, b, tgt_mask=m, memory_key_padding_mask=k),
         lambda a, b, m, k: tm(a, b, tgt_mask=m, memory_key_padding_mask=k),
         [tgt, mem, Const(mask), kpm], f_params=list(fm.named_parameters()),
         t_params=list(tm.named_parameters()), rtol=1e-6, atol=1e-9)
    state_dict_round_trip(fm, tm)


def test_transformer_matches_torch_and_loads_state_dict(rng):
    torch = torch_or_skip()
    torch.manual_seed(0)
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
              dim_feedforward=16, dropout=0.0, batch_first=True)
    tm = torch.nn.Transformer(**kw, dtype=torch.float64)
    fm = nn.Transformer(**kw, dtype=fastdl.float64)
    assert list(fm.state_dict()) == list(tm.state_dict())
    src, tgt = _r(rng, 2, 6, 8), _r(rng, 2, 4, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=fastdl.float64).numpy()
    assert_close(mask, torch.nn.Transformer.generate_square_subsequent_mask(
        4, dtype=torch.float64).numpy())
    from nn_twin import load_torch_weights
    load_torch_weights(fm, tm)
    twin(lambda s, t, m: fm(s, t, tgt_mask=m), lambda s, t, m: tm(s, t, tgt_mask=m),
         [src, tgt, Const(mask)], f_params=list(fm.named_parameters()),
         t_params=list(tm.named_parameters()), rtol=1e-6, atol=1e-9)
    state_dict_round_trip(fm, tm)


def test_transformer_init_and_errors():
    m = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                       dim_feedforward=16)
    w = m.encoder.layers[0].linear1.weight.detach().numpy()
    bound = np.sqrt(6 / (8 + 16))
    assert np.abs(w).max() <= bound and np.abs(w).max() > bound / 2   # xavier uniform
    with pytest.raises(RuntimeError, match="batch number"):
        m(fastdl.randn(5, 2, 8), fastdl.randn(3, 3, 8))
    with pytest.raises(RuntimeError, match="d_model"):
        m(fastdl.randn(5, 2, 6), fastdl.randn(3, 2, 6))
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerDecoderLayer(8, 2, activation="tanh")
    with pytest.raises(ValueError, match="num_layers"):
        nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2), 0)


def test_transformer_subclass_at_import_time():
    class TransformerModel(nn.Transformer):       # the word-language-model pattern
        def __init__(self, ntoken, ninp):
            super().__init__(d_model=ninp, nhead=2, dim_feedforward=16,
                             num_encoder_layers=1, num_decoder_layers=1)
            self.src_mask = None
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.decoder = nn.Linear(ninp, ntoken)

        def forward(self, src):
            x = self.input_emb(src)
            mask = self.generate_square_subsequent_mask(src.shape[0])
            return self.decoder(self.encoder(x, mask=mask))

    m = TransformerModel(11, 8)
    assert m(fastdl.randint(0, 11, (5, 2))).shape == (5, 2, 11)


# ------------------------------------------------------------------------------ small layers

def test_rms_norm_matches_torch(rng):
    torch = torch_or_skip()
    tm = torch.nn.RMSNorm((3, 4), eps=1e-6, dtype=torch.float64)
    torch.nn.init.normal_(tm.weight)
    fm = nn.RMSNorm((3, 4), eps=1e-6, dtype=fastdl.float64)
    twin_module(fm, tm, [_r(rng, 2, 3, 4)])
    fm2, tm2 = nn.RMSNorm(4, dtype=fastdl.float64), torch.nn.RMSNorm(4, dtype=torch.float64)
    twin_module(fm2, tm2, [_r(rng, 5, 4)])          # eps=None: the dtype's epsilon
    state_dict_round_trip(fm, tm)
    x = fastdl.tensor(_r(rng, 2, 4), requires_grad=True)
    w = fastdl.tensor(_r(rng, 4), requires_grad=True)
    gradcheck(lambda a, b: F.rms_norm(a, (4,), b), [x, w])
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F.rms_norm(fastdl.randn(2, 5), (4,))


def test_glu_rrelu_lrn_shuffle_match_torch(rng):
    torch = torch_or_skip()
    tF = torch.nn.functional
    twin(lambda x: F.glu(x, 1), lambda x: tF.glu(x, 1), [_r(rng, 3, 6, 2)])
    twin(lambda x: F.rrelu(x, 0.1, 0.3), lambda x: tF.rrelu(x, 0.1, 0.3), [_r(rng, 4, 5)])
    for size in (1, 2, 3, 5):
        twin(lambda x: F.local_response_norm(x, size, 1e-2, 0.75, 2.0),
             lambda x: tF.local_response_norm(x, size, 1e-2, 0.75, 2.0), [_r(rng, 2, 6, 3, 2)])
    twin(lambda x: F.pixel_shuffle(x, 2), lambda x: tF.pixel_shuffle(x, 2),
         [_r(rng, 2, 3, 8, 2, 3)])
    twin(lambda x: F.pixel_unshuffle(x, 2), lambda x: tF.pixel_unshuffle(x, 2),
         [_r(rng, 2, 3, 4, 6)])
    x = rng.standard_normal((2, 6, 2, 3))
    assert_close(F.channel_shuffle(fastdl.tensor(x), 3).numpy(),
                 torch.nn.ChannelShuffle(3)(torch.tensor(x)).numpy())
    twin_module(nn.GLU(), torch.nn.GLU(), [_r(rng, 2, 4)])
    twin_module(nn.PixelShuffle(3), torch.nn.PixelShuffle(3), [_r(rng, 1, 9, 2, 2)])
    twin_module(nn.LocalResponseNorm(3), torch.nn.LocalResponseNorm(3), [_r(rng, 2, 5, 4)])


def test_small_layers_gradcheck_and_errors(rng):
    x = fastdl.tensor(_r(rng, 2, 4, 3), requires_grad=True)
    gradcheck(lambda a: F.glu(a, 1), [x])
    gradcheck(lambda a: F.local_response_norm(a, 3, 0.1, 0.75, 1.0), [x])
    gradcheck(lambda a: F.pixel_unshuffle(a.reshape(1, 2, 4, 3)[:, :, :, :2], 2), [x])
    with pytest.raises(RuntimeError, match="even"):
        F.glu(fastdl.randn(3, 5))
    with pytest.raises(RuntimeError, match="divisible"):
        F.pixel_shuffle(fastdl.randn(1, 3, 2, 2), 2)
    with pytest.raises(RuntimeError, match="divisible"):
        F.channel_shuffle(fastdl.randn(1, 5, 2, 2), 2)
    with pytest.raises(ValueError, match="3D or higher"):
        F.local_response_norm(fastdl.randn(2, 3), 2)
    with pytest.raises(ValueError, match="lower"):
        F.rrelu(fastdl.randn(3), 0.5, 0.1)


def test_rrelu_training_slopes_in_range(rng):
    x = fastdl.tensor(-np.abs(_r(rng, 1000)) - 0.1, requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slope = y.detach().numpy() / x.detach().numpy()
    assert slope.min() >= 0.1 and slope.max() <= 0.3 and slope.std() > 0.03
    y.sum().backward()
    assert_close(x.grad.numpy(), slope)


def test_alpha_dropout_statistics_and_gradient(rng):
    x = fastdl.tensor(rng.standard_normal(200000))
    y = F.alpha_dropout(x, 0.3, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02       # self-normalising
    assert np.isclose(np.unique(np.round(y[np.isclose(y, y.min())], 6)).size, 1)
    assert F.alpha_dropout(x, 0.3, training=False) is x
    x2 = fastdl.tensor(_r(rng, 4, 6, 3), requires_grad=True)
    y2 = F.feature_alpha_dropout(x2, 0.5, training=True)
    y2.sum().backward()
    g = x2.grad.numpy()
    assert np.all((g == g[:, :, :1]))                            # one mask per channel
    with pytest.raises(ValueError, match="probability"):
        nn.AlphaDropout(1.5)(x)
    m = nn.Dropout3d(0.5)
    out = m(fastdl.ones(2, 3, 2, 2, 2)).numpy()
    assert set(np.unique(out)) <= {0.0, 2.0}
    assert np.all(out == out[:, :, :1, :1, :1])


def test_gumbel_softmax(rng):
    logits = fastdl.tensor(_r(rng, 6, 5), requires_grad=True)
    fastdl.manual_seed(3)
    y = F.gumbel_softmax(logits, tau=0.5)
    fastdl.manual_seed(3)
    y2 = F.gumbel_softmax(logits, tau=0.5)
    assert_close(y.detach().numpy(), y2.detach().numpy())
    assert_close(y.detach().numpy().sum(-1), np.ones(6))
    h = F.gumbel_softmax(logits, hard=True)
    hn = h.detach().numpy()
    assert set(np.unique(hn)) == {0.0, 1.0} and np.all(hn.sum(-1) == 1)
    h.sum().backward()                       # straight-through: softmax's gradient of a sum
    assert_close(logits.grad.numpy(), np.zeros((6, 5)), atol=1e-6)
    # gradient of the soft sample with the noise held fixed
    x = fastdl.tensor(_r(rng, 3, 4), requires_grad=True)

    def f(a):
        fastdl.manual_seed(7)
        return F.gumbel_softmax(a, tau=0.7)
    gradcheck(f, [x])
    # the sample frequencies follow softmax(logits)
    lg = fastdl.tensor(np.tile(np.log([0.1, 0.6, 0.3]), (20000, 1)))
    freq = F.gumbel_softmax(lg, hard=True).numpy().mean(0)
    assert_close(freq, np.array([0.1, 0.6, 0.3]), atol=0.015, rtol=0)


# ------------------------------------------------------------------------------ embedding_bag

@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_bag_matches_torch(mode, padding_idx, rng):
    torch = torch_or_skip()
    w = _r(rng, 7, 3)
    idx = np.array([1, 2, 4, 5, 4, 2, 2, 6, 0, 3], np.int64)
    offs = np.array([0, 3, 3, 6, 7], np.int64)                 # bag 1 empty; bag 3 only pad
    twin(lambda w_, i, o: F.embedding_bag(i, w_, o, mode=mode, padding_idx=padding_idx),
         lambda w_, i, o: torch.nn.functional.embedding_bag(i, w_, o, mode=mode,
                                                            padding_idx=padding_idx),
         [w, idx, offs])
    twin(lambda w_, i, o: F.embedding_bag(i, w_, o, mode=mode, include_last_offset=True),
         lambda w_, i, o: torch.nn.functional.embedding_bag(i, w_, o, mode=mode,
                                                            include_last_offset=True),
         [w, idx, np.array([0, 3, 3, 10], np.int64)])
    twin(lambda w_, i: F.embedding_bag(i, w_, mode=mode, padding_idx=padding_idx),
         lambda w_, i: torch.nn.functional.embedding_bag(i, w_, mode=mode,
                                                         padding_idx=padding_idx),
         [w, idx.reshape(2, 5)])


@pytest.mark.parametrize("mode,per_sample", [("sum", False), ("sum", True), ("mean", False),
                                              ("max", False)])
@pytest.mark.parametrize("padding_idx", [None, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_bag_last_offset_ends_last_bag(mode, per_sample, padding_idx, dtype, rng):
    """include_last_offset: the offsets are CSR bounds, so the last bag ends at the last
    offset even when it is < len(input); the entries after it (here one out of range) are
    not read and get no gradient. Checked against torch on the input cut at the last offset
    (torch's documented form), against torch itself where its kernel is CSR (float32 sum
    without padding_idx), and against the NumPy reference."""
    torch = torch_or_skip()
    w = _r(rng, 7, 3).astype(dtype)
    idx = np.array([1, 2, 4, 5, 2, 2, 6, 0, 3, 99], np.int64)
    offs = np.array([0, 3, 3, 6, 7], np.int64)                 # bag 1 empty; ends at 7 < 10
    end = int(offs[-1])
    psw = _r(rng, idx.size).astype(dtype) if per_sample else None
    kw = dict(mode=mode, padding_idx=padding_idx)
    W, P = fastdl.tensor(w, requires_grad=True), None
    if per_sample:
        P = fastdl.tensor(psw, requires_grad=True)
    out = F.embedding_bag(fastdl.tensor(idx), W, fastdl.tensor(offs), per_sample_weights=P,
                          include_last_offset=True, **kw)
    tW = torch.tensor(w, requires_grad=True)
    tP = torch.tensor(psw[:end], requires_grad=True) if per_sample else None
    tout = torch.nn.functional.embedding_bag(torch.tensor(idx[:end]), tW, torch.tensor(offs),
                                             per_sample_weights=tP, include_last_offset=True,
                                             **kw)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    assert out.shape == (4, 3)
    assert_close(out.detach().numpy(), tout.detach().numpy(), **tol)
    ref = embedding_bag_ref(w.astype(np.float64), idx, offs, mode, psw, padding_idx,
                            include_last_offset=True)
    assert_close(out.detach().numpy(), ref, **tol)
    v = _r(rng, 4, 3).astype(dtype)
    (out * fastdl.tensor(v)).sum().backward()
    (tout * torch.tensor(v)).sum().backward()
    assert_close(W.grad.numpy(), tW.grad.numpy(), **tol)
    if per_sample:
        assert_close(P.grad.numpy()[:end], tP.grad.numpy(), **tol)
        assert np.all(P.grad.numpy()[end:] == 0)
    if dtype == np.float32 and mode == "sum" and padding_idx is None:
        direct = torch.nn.functional.embedding_bag(
            torch.tensor(idx), torch.tensor(w), torch.tensor(offs), include_last_offset=True,
            per_sample_weights=None if psw is None else torch.tensor(psw), **kw)
        assert_close(out.detach().numpy(), direct.numpy(), **tol)
    # the module takes the same path
    m = nn.EmbeddingBag(7, 3, include_last_offset=True, dtype=fastdl.float64, **kw)
    with fastdl.no_grad():
        m.weight.copy_(fastdl.tensor(w.astype(np.float64)))
    mo = m(fastdl.tensor(idx), fastdl.tensor(offs),
           None if psw is None else fastdl.tensor(psw.astype(np.float64)))
    assert_close(mo.detach().numpy(), ref, rtol=1e-5, atol=1e-6)
    if mode == "sum" and not per_sample:                       # gradcheck, float64
        gradcheck(lambda a: F.embedding_bag(fastdl.tensor(idx), a, fastdl.tensor(offs),
                                            include_last_offset=True, **kw),
                  [fastdl.tensor(w.astype(np.float64), requires_grad=True)])


def test_embedding_bag_last_offset_errors():
    w, i = fastdl.randn(5, 2), fastdl.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="can not be greater than input's length 3"):
        F.embedding_bag(i, w, fastdl.tensor([0, 1, 4]), include_last_offset=True)
    with pytest.raises(RuntimeError, match="non-decreasing"):
        F.embedding_bag(i, w, fastdl.tensor([0, 2, 1]), include_last_offset=True)
    with pytest.raises(RuntimeError, match="offsets\\[0\\]"):
        F.embedding_bag(i, w, fastdl.tensor([2]), include_last_offset=True)
    assert F.embedding_bag(i, w, fastdl.tensor([0]), include_last_offset=True).shape == (0, 2)


def test_embedding_bag_per_sample_weights_module_and_gradcheck(rng):
    torch = torch_or_skip()
    w, idx = _r(rng, 6, 4), np.array([0, 5, 5, 1, 3, 2], np.int64)
    offs, psw = np.array([0, 2, 4], np.int64), _r(rng, 6)
    twin(lambda w_, i, o, p: F.embedding_bag(i, w_, o, mode="sum", per_sample_weights=p),
         lambda w_, i, o, p: torch.nn.functional.embedding_bag(
             i, w_, o, mode="sum", per_sample_weights=p), [w, idx, offs, psw])
    tm = torch.nn.EmbeddingBag(6, 4, mode="max", dtype=torch.float64)
    fm = nn.EmbeddingBag(6, 4, mode="max", dtype=fastdl.float64)
    state_dict_round_trip(fm, tm)
    from nn_twin import load_torch_weights
    load_torch_weights(fm, tm)
    twin(lambda i, o: fm(i, o), lambda i, o: tm(i, o), [idx, offs],
         f_params=list(fm.named_parameters()), t_params=list(tm.named_parameters()))
    W = fastdl.tensor(w, requires_grad=True)
    P = fastdl.tensor(psw, requires_grad=True)
    gradcheck(lambda a, p: F.embedding_bag(fastdl.tensor(idx), a, fastdl.tensor(offs),
                                           mode="sum", per_sample_weights=p), [W, P])
    gradcheck(lambda a: F.embedding_bag(fastdl.tensor(idx), a, fastdl.tensor(offs),
                                        mode="mean"), [W])


def test_embedding_bag_errors():
    w = fastdl.randn(5, 2)
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(fastdl.tensor([[1, 2]]), w, fastdl.tensor([0]))
    with pytest.raises(ValueError, match="offsets has to be a 1D"):
        F.embedding_bag(fastdl.tensor([1, 2]), w)
    with pytest.raises(RuntimeError, match="offsets\\[0\\]"):
        F.embedding_bag(fastdl.tensor([1, 2]), w, fastdl.tensor([1]))
    with pytest.raises(IndexError, match="out of range"):
        F.embedding_bag(fastdl.tensor([1, 7]), w, fastdl.tensor([0]))
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        F.embedding_bag(fastdl.tensor([1, 2]), w, fastdl.tensor([0]), mode="mean",
                        per_sample_weights=fastdl.ones(2))
    with pytest.raises(ValueError, match="mode"):
        nn.EmbeddingBag(5, 2, mode="median")


# ------------------------------------------------------------------------------ 3-D norms

def test_batchnorm3d_instancenorm3d_syncbn_match_torch(rng):
    torch = torch_or_skip()
    x = _r(rng, 2, 3, 2, 3, 2)
    for fm, tm in [(nn.BatchNorm3d(3, dtype=fastdl.float64),
                    torch.nn.BatchNorm3d(3, dtype=torch.float64)),
                   (nn.InstanceNorm3d(3, affine=True, dtype=fastdl.float64),
                    torch.nn.InstanceNorm3d(3, affine=True, dtype=torch.float64)),
                   (nn.SyncBatchNorm(3, dtype=fastdl.float64),
                    torch.nn.SyncBatchNorm(3, dtype=torch.float64))]:
        torch.nn.init.normal_(tm.weight)
        twin_module(fm, tm, [x], rtol=1e-6)
        assert_close(fm.running_var.numpy() if fm.running_var is not None else 0,
                     tm.running_var.numpy() if tm.running_var is not None else 0)
        state_dict_round_trip(fm, tm)
    net = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3))
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert isinstance(conv[1], nn.SyncBatchNorm) and conv[1].weight is net[1].weight
    with pytest.raises(ValueError, match="5D"):
        nn.BatchNorm3d(3)(fastdl.randn(2, 3, 4))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_kernel_matches_numpy_reference(mode, rng):
    from fastdl.testing.reference.embag import embedding_bag_ref
    from fastdl.testing import use_threads
    w = rng.standard_normal((40, 37)).astype(np.float32)
    idx = rng.integers(0, 40, 300)
    offs = np.sort(rng.choice(np.arange(1, 300), 30, replace=False))
    offs = np.concatenate(([0], offs))
    psw = rng.standard_normal(300).astype(np.float32) if mode == "sum" else None
    ref = embedding_bag_ref(w, idx, offs, mode, psw, padding_idx=3)
    outs = []
    for n in (1, 2):
        with use_threads(n):
            W = fastdl.tensor(w, requires_grad=True)
            out = F.embedding_bag(fastdl.tensor(idx), W, fastdl.tensor(offs), mode=mode,
                                  per_sample_weights=None if psw is None else fastdl.tensor(psw),
                                  padding_idx=3)
            out.sum().backward()
            outs.append((out.detach().numpy(), W.grad.numpy()))
    assert_close(outs[0][0], ref, rtol=1e-5, atol=1e-5)
    assert np.array_equal(outs[0][0], outs[1][0]) and np.array_equal(outs[0][1], outs[1][1])


def test_misc_functions_match_torch(rng):
    torch = torch_or_skip()
    tF = torch.nn.functional
    for p in (1, 2, 3.5, float("inf")):
        twin(lambda x: F.pdist(x, p), lambda x: tF.pdist(x, p), [_r(rng, 5, 3)])
    twin(lambda x, w, b: F.conv_tbc(x, w, b, 1), lambda x, w, b: torch.conv_tbc(x, w, b, 1),
         [_r(rng, 7, 2, 3), _r(rng, 3, 3, 4), _r(rng, 4)])
    y = rng.integers(0, 5, 6)
    twin(lambda x, w, b, t: F.linear_cross_entropy(x, w, t, linear_bias=b, label_smoothing=0.1),
         lambda x, w, b, t: tF.linear_cross_entropy(x, w, t, linear_bias=b, label_smoothing=0.1),
         [_r(rng, 6, 4), _r(rng, 5, 4), _r(rng, 5), y])
    tm = torch.nn.LinearCrossEntropyLoss(4, 5, bias=True, dtype=torch.float64)
    fm = nn.LinearCrossEntropyLoss(4, 5, bias=True, dtype=fastdl.float64)
    twin_module(fm, tm, [_r(rng, 6, 4), y])
    x = _r(rng, 1, 2, 3, 3)
    with pytest.warns(UserWarning, match="deprecated"):
        up = F.upsample_bilinear(fastdl.tensor(x), scale_factor=2)
    assert_close(up.numpy(), tF.interpolate(torch.tensor(x), scale_factor=2, mode="bilinear",
                                            align_corners=True).numpy())
    dp = nn.DataParallel(nn.Linear(3, 2))
    assert list(dp.state_dict()) == ["module.weight", "module.bias"]
    assert dp(fastdl.randn(4, 3)).shape == (4, 2)
    with pytest.raises(ValueError, match="CPU"):
        nn.DataParallel(nn.Linear(3, 2), device_ids=[0, 1])


def test_buffer_assignment_registers_like_torch():
    torch = torch_or_skip()

    def build(lib):
        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = lib.nn.Linear(2, 2)
                self.stat = lib.nn.Buffer(lib.ones(3))
                self.tmp = lib.nn.Buffer(lib.zeros(1), persistent=False)
        return M()
    f, t = build(fastdl), build(torch)
    assert list(f.state_dict()) == list(t.state_dict())
    assert [n for n, _ in f.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in f.named_parameters()] == [n for n, _ in t.named_parameters()]
