"""PackedSequence utilities and RNN/LSTM/GRU on packed input: PyTorch twins (packed data,
batch sizes, permutations, outputs, final states and gradients)."""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
from fastdl.nn.utils import rnn as R
from fastdl.testing import assert_close
from nn_twin import load_torch_weights, torch_or_skip, twin


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_pad_round_trip_matches_torch(enforce_sorted, batch_first, rng):
    torch = torch_or_skip()
    tR = torch.nn.utils.rnn
    lengths = [5, 4, 2, 2] if enforce_sorted else [2, 5, 4, 2]
    x = rng.standard_normal((4, 5, 3) if batch_first else (5, 4, 3))

    def f(a):
        p = R.pack_padded_sequence(a, lengths, batch_first, enforce_sorted)
        return p.data, R.pad_packed_sequence(p, batch_first, -1.0, total_length=6)[0]

    def t(a):
        p = tR.pack_padded_sequence(a, lengths, batch_first, enforce_sorted)
        return p.data, tR.pad_packed_sequence(p, batch_first, -1.0, total_length=6)[0]
    twin(f, t, [x])
    fp = R.pack_padded_sequence(fastdl.tensor(x), lengths, batch_first, enforce_sorted)
    tp = tR.pack_padded_sequence(torch.tensor(x), lengths, batch_first, enforce_sorted)
    assert fp.batch_sizes.numpy().tolist() == tp.batch_sizes.tolist()
    if not enforce_sorted:
        assert fp.sorted_indices.numpy().tolist() == tp.sorted_indices.tolist()
        assert fp.unsorted_indices.numpy().tolist() == tp.unsorted_indices.tolist()
    _, fl = R.pad_packed_sequence(fp)
    assert fl.numpy().tolist() == lengths


def test_pack_sequence_unpack_and_errors(rng):
    torch = torch_or_skip()
    seqs = [rng.standard_normal((n, 2)) for n in (2, 4, 1)]
    fp = R.pack_sequence([fastdl.tensor(s) for s in seqs], enforce_sorted=False)
    tp = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    assert_close(fp.data.numpy(), tp.data.numpy())
    back = R.unpack_sequence(fp)
    for a, b in zip(back, seqs):
        assert_close(a.numpy(), b)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        R.pack_sequence([fastdl.tensor(s) for s in seqs])
    with pytest.raises(RuntimeError, match="greater than 0"):
        R.pack_padded_sequence(fastdl.randn(3, 2, 1), [3, 0])
    with pytest.raises(ValueError, match="total_length"):
        R.pad_packed_sequence(fp, total_length=2)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_on_packed_input_matches_torch(kind, bidirectional, rng):
    torch = torch_or_skip()
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=bidirectional).double()
    fm = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=bidirectional).double()
    load_torch_weights(fm, tm)
    fm.flatten_parameters()
    lengths = [3, 5, 1, 3]
    x = rng.standard_normal((5, 4, 3))
    D = 2 if bidirectional else 1
    h0 = rng.standard_normal((2 * D, 4, 4))
    c0 = rng.standard_normal((2 * D, 4, 4))

    def run(mod, Rmod, a, h, c):
        p = Rmod.pack_padded_sequence(a, lengths, enforce_sorted=False)
        out, hn = mod(p, (h, c) if kind == "LSTM" else h)
        hn = hn if kind != "LSTM" else hn[0] + hn[1] * 2
        return Rmod.pad_packed_sequence(out)[0], hn
    twin(lambda a, h, c: run(fm, R, a, h, c),
         lambda a, h, c: run(tm, torch.nn.utils.rnn, a, h, c), [x, h0, c0],
         f_params=list(fm.named_parameters()), t_params=list(tm.named_parameters()),
         rtol=1e-6, atol=1e-9)
