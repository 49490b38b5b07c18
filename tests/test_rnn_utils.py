"""nn.utils.rnn.pad_sequence / unpad_sequence against torch, gradients, errors."""
import numpy as np
import pytest

import fastdl
from fastdl.nn.utils import rnn as U
from fastdl.testing import assert_close, gradcheck


def _seqs(rng, lens, trail=(3,)):
    return [rng.standard_normal((n,) + trail) for n in lens]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("trail", [(), (3,), (2, 2)])
def test_pad_sequence_against_torch(batch_first, side, trail):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    seqs = _seqs(rng, [4, 1, 6, 3], trail)
    got = U.pad_sequence([fastdl.tensor(s) for s in seqs], batch_first, -2.5, side)
    want = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(s) for s in seqs], batch_first,
                                           -2.5, side)
    assert_close(got, want.numpy(), rtol=0, atol=0)


def test_pad_sequence_gradient_and_unpad():
    rng = np.random.default_rng(1)
    seqs = [fastdl.tensor(s, requires_grad=True) for s in _seqs(rng, [2, 5, 3])]
    gradcheck(lambda a, b, c: U.pad_sequence([a, b, c], batch_first=True), seqs)
    p = U.pad_sequence(seqs)
    back = U.unpad_sequence(p, [2, 5, 3])
    for s, b in zip(seqs, back):
        assert_close(b.detach().numpy(), s.detach().numpy(), rtol=0, atol=0)
    with pytest.raises(ValueError, match="empty"):
        U.pad_sequence([])
    with pytest.raises(ValueError, match="sequence 1"):
        U.pad_sequence([fastdl.zeros(2, 3), fastdl.zeros(2, 4)])
    with pytest.raises(ValueError, match="lengths"):
        U.unpad_sequence(p, [2, 9, 3])
