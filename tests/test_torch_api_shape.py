"""The torch namespace, shape ops: values against NumPy (always) and torch (when installed),
gradients by gradcheck (float64), empty/0-d inputs and errors."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import assert_close, gradcheck

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
X3 = RNG.standard_normal((2, 3, 4))


def T(a, grad=False):
    return fastdl.tensor(np.array(a), requires_grad=grad)


def _eq(got, want):
    got = got.numpy() if hasattr(got, "numpy") else np.asarray(got)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    assert_close(got, np.asarray(want))


# (fastdl call, NumPy reference, differentiable) on X3
CASES = {
    "flip": (lambda t: fastdl.flip(t, (0, 2)), lambda a: np.flip(a, (0, 2))),
    "fliplr": (lambda t: fastdl.fliplr(t), lambda a: np.flip(a, 1)),
    "flipud": (lambda t: fastdl.flipud(t), lambda a: np.flip(a, 0)),
    "roll": (lambda t: fastdl.roll(t, (1, -2), (0, 2)), lambda a: np.roll(a, (1, -2), (0, 2))),
    "roll_flat": (lambda t: fastdl.roll(t, 5), lambda a: np.roll(a, 5)),
    "rot90": (lambda t: fastdl.rot90(t, 1, (1, 2)), lambda a: np.rot90(a, 1, (1, 2))),
    "rot90_3": (lambda t: fastdl.rot90(t, -1, (0, 1)), lambda a: np.rot90(a, -1, (0, 1))),
    "rot90_2": (lambda t: fastdl.rot90(t, 2), lambda a: np.rot90(a, 2)),
    "repeat_interleave": (lambda t: fastdl.repeat_interleave(t, 2, 1),
                          lambda a: np.repeat(a, 2, 1)),
    "repeat_interleave_t": (lambda t: t.repeat_interleave(T([1, 0, 2]), dim=1),
                            lambda a: np.repeat(a, [1, 0, 2], 1)),
    "repeat_interleave_flat": (lambda t: fastdl.repeat_interleave(t, 2),
                               lambda a: np.repeat(a, 2)),
    "tile": (lambda t: fastdl.tile(t, (2, 1)), lambda a: np.tile(a, (2, 1))),
    "broadcast_to": (lambda t: fastdl.broadcast_to(t, (2, 2, 3, 4)),
                     lambda a: np.broadcast_to(a, (2, 2, 3, 4))),
    "movedim": (lambda t: fastdl.movedim(t, (0, 1), (2, 0)),
                lambda a: np.moveaxis(a, (0, 1), (2, 0))),
    "moveaxis": (lambda t: fastdl.moveaxis(t, 0, -1), lambda a: np.moveaxis(a, 0, -1)),
    "swapdims": (lambda t: fastdl.swapdims(t, 0, 2), lambda a: np.swapaxes(a, 0, 2)),
    "swapaxes": (lambda t: fastdl.swapaxes(t, 1, 2), lambda a: np.swapaxes(a, 1, 2)),
    "unflatten": (lambda t: fastdl.unflatten(t, 2, (2, -1)), lambda a: a.reshape(2, 3, 2, 2)),
    "flatten": (lambda t: fastdl.flatten(t, 1), lambda a: a.reshape(2, 12)),
    "tril": (lambda t: fastdl.tril(t, -1), lambda a: np.tril(a, -1)),
    "triu": (lambda t: fastdl.triu(t, 1), lambda a: np.triu(a, 1)),
    "diagonal": (lambda t: fastdl.diagonal(t, 1, 1, 2),
                 lambda a: np.diagonal(a, 1, 1, 2)),
    "diagonal_neg": (lambda t: t.diagonal(-1, 2, 0), lambda a: np.diagonal(a, -1, 2, 0)),
    "diag_embed": (lambda t: fastdl.diag_embed(t, 1), None),
    "diagflat": (lambda t: fastdl.diagflat(t[0, 0]), lambda a: np.diagflat(a[0, 0])),
    "diag1": (lambda t: fastdl.diag(t[0, 0], -1), lambda a: np.diag(a[0, 0], -1)),
    "diag2": (lambda t: fastdl.diag(t[0], 1), lambda a: np.diag(a[0], 1)),
    "hstack": (lambda t: fastdl.hstack([t, t]), lambda a: np.hstack([a, a])),
    "vstack": (lambda t: fastdl.vstack([t[0], t[1]]), lambda a: np.vstack([a[0], a[1]])),
    "dstack": (lambda t: fastdl.dstack([t[0], t[1]]), lambda a: np.dstack([a[0], a[1]])),
    "column_stack": (lambda t: fastdl.column_stack([t[0, :, 0], t[1]]),
                     lambda a: np.column_stack([a[0, :, 0], a[1]])),
    "atleast_3d": (lambda t: fastdl.atleast_3d(t[0, 0]), lambda a: np.atleast_3d(a[0, 0])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_op_values_and_gradients(name):
    f, ref = CASES[name]
    for dt in (np.float32, np.float64):
        a = X3.astype(dt)
        got = f(T(a))
        if ref is not None:
            _eq(got, ref(a))
        assert got.numpy().dtype == dt
    gradcheck(f, [T(X3, True)])


def test_shape_ops_match_torch():
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(X3)
    pairs = [
        (fastdl.diag_embed(T(X3), 1), torch.diag_embed(t, 1)),
        (fastdl.diag_embed(T(X3), -1, 0, 2), torch.diag_embed(t, -1, 0, 2)),
        (fastdl.rot90(T(X3), 3, (2, 1)), torch.rot90(t, 3, (2, 1))),
        (fastdl.tile(T(X3), (2,)), torch.tile(t, (2,))),
        (fastdl.repeat_interleave(T([2, 0, 1])), torch.repeat_interleave(torch.tensor([2, 0, 1]))),
        (fastdl.tril_indices(3, 4, 1), torch.tril_indices(3, 4, 1)),
        (fastdl.triu_indices(4, 3, -1), torch.triu_indices(4, 3, -1)),
    ]
    for g, w in pairs:
        _eq(g, w.numpy())
    for ios in (3, [1, 3], (0, -1, 10)):
        g = fastdl.tensor_split(T(X3), ios, dim=2)
        w = torch.tensor_split(t, ios, dim=2)
        assert len(g) == len(w)
        for a, b in zip(g, w):
            _eq(a, b.numpy())
    for a, b in zip(fastdl.hsplit(T(X3), 3), torch.hsplit(t, 3)):
        _eq(a, b.numpy())
    for a, b in zip(fastdl.vsplit(T(X), [1]), torch.vsplit(torch.from_numpy(X), [1])):
        _eq(a, b.numpy())
    for a, b in zip(fastdl.split(T(X), [1, 3], 1), torch.split(torch.from_numpy(X), [1, 3], 1)):
        _eq(a, b.numpy())
    for ind in ("ij", "xy"):
        g = fastdl.meshgrid(T([1, 2, 3]), T([4, 5]), T([6]), indexing=ind)
        w = torch.meshgrid(torch.tensor([1, 2, 3]), torch.tensor([4, 5]), torch.tensor([6]),
                           indexing=ind)
        for a, b in zip(g, w):
            _eq(a, b.numpy())
    a, b = fastdl.broadcast_tensors(T(np.ones((2, 1))), T(np.ones(3)))
    assert a.shape == b.shape == (2, 3)
    assert tuple(fastdl.broadcast_shapes((2, 1), (3,), 1)) == (2, 3)
    for n in (1, 2, 3):
        for v in (T(1.0), T([1.0, 2.0]), T(X)):
            assert getattr(fastdl, f"atleast_{n}d")(v).shape == \
                tuple(getattr(torch, f"atleast_{n}d")(torch.from_numpy(v.numpy())).shape)


def test_meshgrid_and_split_gradients():
    x, y = T([1.0, 2.0, 3.0], True), T([4.0, 5.0], True)
    gradcheck(lambda a, b: fastdl.meshgrid(a, b, indexing="xy")[0] *
              fastdl.meshgrid(a, b, indexing="xy")[1], [x, y])
    gradcheck(lambda a: fastdl.tensor_split(a, 3, 1)[1] * 2, [T(X, True)])


def test_shape_edge_cases_and_errors():
    assert fastdl.flip(T(2.0), ()).item() == 2.0
    assert fastdl.roll(fastdl.zeros(0, 3), 1, 1).shape == (0, 3)
    assert fastdl.triu(fastdl.zeros(0, 3)).shape == (0, 3)
    assert fastdl.tril(fastdl.ones(2, 3, 3)).sum().item() == 12
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        fastdl.triu(fastdl.ones(3))
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        fastdl.broadcast_shapes((2,), (3,))
    with pytest.raises(RuntimeError, match="shifts and dimensions must align"):
        fastdl.roll(T(X), (1, 2), 0)
    with pytest.raises(RuntimeError, match="Input must be >= 2-d"):
        fastdl.fliplr(fastdl.ones(3))
    with pytest.raises(RuntimeError, match="not divisible"):
        fastdl.hsplit(T(X), 3)
    with pytest.raises(RuntimeError, match="don't multiply up"):
        fastdl.unflatten(T(X), 1, (3, 2))
    with pytest.raises(RuntimeError, match="duplicates"):
        fastdl.flip(T(X), (0, 0))
    with pytest.raises(RuntimeError, match="indexing must be"):
        fastdl.meshgrid(T([1]), indexing="yx")
    with pytest.raises(RuntimeError, match="same dtype"):
        fastdl.meshgrid(T([1]), T([1.0]))
    with pytest.raises(RuntimeError, match="Supports 1D or 2D"):
        fastdl.diag(T(X3))
