import numpy as np

import fastdl


def test_import_and_config(capsys):
    text = fastdl.show_config()
    assert "isa:" in text and "threads:" in text and capsys.readouterr().out.strip() == text


def test_matmul_backward_against_numpy(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4, 2)).astype(np.float32)
    x = fastdl.tensor(a, requires_grad=True)
    w = fastdl.tensor(b, requires_grad=True)
    (x @ w).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones((3, 2)) @ b.T, rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), a.T @ np.ones((3, 2)), rtol=1e-6)
