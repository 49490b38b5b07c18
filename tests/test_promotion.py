"""Type promotion follows torch.result_type / torch.promote_types, not NumPy."""
import itertools

import numpy as np
import pytest

from fastdl.ops.promotion import promote_types, result_type

f2, f4, f8 = np.dtype("f2"), np.dtype("f4"), np.dtype("f8")
i1, u1, i2, i4, i8 = (np.dtype(c) for c in ("i1", "u1", "i2", "i4", "i8"))
b = np.dtype("?")


@pytest.mark.parametrize("a,c,want", [
    (i4, f4, f4), (i8, f2, f2), (u1, i1, i2), (b, i4, i4), (b, f8, f8), (f4, f8, f8),
    (i8, i4, i8)])
def test_promote_types_rules(a, c, want):
    assert promote_types(a, c) == want and promote_types(c, a) == want


@pytest.mark.parametrize("operands,want", [
    ((np.ones(3, "f4"), 2.5), f4),             # a Python float does not widen float32
    ((np.ones(3, "f4"), np.float64(1)), f4),   # nor does a NumPy scalar
    ((np.ones(3, "i8"), 2.5), f4),             # int tensor, float scalar: default float
    ((np.ones(3, "i8"), np.ones(3, "f4")), f4),
    ((np.ones(3, "i4"), np.array(1.0)), f8),   # 0-d tensor of a higher category counts
    ((np.ones(3, "f4"), np.array(1.0)), f4),   # 0-d of the same category does not
    ((np.ones(3, "u1"), -1), u1),
    ((np.ones(3, "?"), 1), i8),
    ((np.array(1, "i4"), 2.5), f4),
])
def test_result_type_cases(operands, want):
    assert result_type(*operands) == want


def test_result_type_errors():
    with pytest.raises(TypeError, match="at least one"):
        result_type()
    with pytest.raises(TypeError, match="unsupported operand type str"):
        result_type(np.ones(2, "f4"), "x")


def test_against_torch_every_pair():
    torch = pytest.importorskip("torch")
    m = {torch.float32: f4, torch.float64: f8, torch.float16: f2, torch.int64: i8,
         torch.int32: i4, torch.int16: i2, torch.int8: i1, torch.uint8: u1, torch.bool: b}
    for ta, tb in itertools.product(m, m):
        assert promote_types(m[ta], m[tb]) == m[torch.promote_types(ta, tb)], (ta, tb)
        for sa, sb in [((2,), (2,)), ((2,), ()), ((), ())]:
            want = torch.result_type(torch.zeros(sa, dtype=ta), torch.zeros(sb, dtype=tb))
            assert result_type(np.zeros(sa, m[ta]), np.zeros(sb, m[tb])) == m[want]
        for s in (True, 3, 2.5):
            want = torch.result_type(torch.zeros(2, dtype=ta), s)
            assert result_type(np.zeros(2, m[ta]), s) == m[want], (ta, s)
