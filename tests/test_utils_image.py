"""make_grid / save_image: torchvision.utils' layout and byte conversion, PNG written by
fastdl and read back by an independent decoder."""
import io

import numpy as np
import pytest

import fastdl
from fastdl.utils import make_grid, save_image

rng = np.random.default_rng(0)


def _reference_grid(a, nrow, padding, pad_value):
    """The layout written out longhand: image k at row k // cols, column k % cols."""
    B, C, H, W = a.shape
    cols = min(nrow, B)
    rows = -(-B // cols)
    g = np.full((3, rows * (H + padding) + padding, cols * (W + padding) + padding),
                pad_value, np.float32)
    for k in range(B):
        r, c = k // cols, k % cols
        top, left = padding + r * (H + padding), padding + c * (W + padding)
        img = a[k] if C == 3 else np.repeat(a[k], 3, 0)
        g[:, top:top + H, left:left + W] = img
    return g


@pytest.mark.parametrize("B,C,nrow,padding", [(10, 3, 4, 2), (7, 1, 8, 0), (3, 3, 1, 5),
                                              (16, 1, 4, 1)])
def test_make_grid_layout(B, C, nrow, padding):
    a = rng.random((B, C, 6, 5)).astype(np.float32)
    g = make_grid(fastdl.tensor(a), nrow=nrow, padding=padding, pad_value=0.25)
    np.testing.assert_array_equal(g.numpy(), _reference_grid(a, nrow, padding, 0.25))


def test_make_grid_normalize_and_single_image():
    a = (rng.random((4, 3, 5, 5)) * 10 - 3).astype(np.float32)
    g = make_grid(fastdl.tensor(a), normalize=True, padding=0, nrow=4).numpy()
    want = (a - a.min()) / (a.max() - a.min())
    np.testing.assert_allclose(g, _reference_grid(want, 4, 0, 0), rtol=1e-5, atol=1e-6)
    g = make_grid(fastdl.tensor(a), normalize=True, value_range=(0, 5), padding=0).numpy()
    np.testing.assert_allclose(g, _reference_grid(np.clip(a, 0, 5) / 5, 8, 0, 0), atol=1e-6)
    g = make_grid(fastdl.tensor(a), normalize=True, scale_each=True, padding=0).numpy()
    each = np.stack([(x - x.min()) / (x.max() - x.min()) for x in a])
    np.testing.assert_allclose(g, _reference_grid(each, 8, 0, 0), atol=1e-6)
    one = make_grid(fastdl.tensor(a[:1]))
    assert one.shape == (3, 5, 5)
    assert make_grid(fastdl.tensor(a[0, 0])).shape == (3, 5, 5)


def test_make_grid_errors():
    with pytest.raises(ValueError, match="nrow"):
        make_grid(fastdl.zeros(2, 3, 4, 4), nrow=0)
    with pytest.raises(ValueError, match="shape"):
        make_grid(fastdl.zeros(1, 2, 3, 4, 4))
    with pytest.raises(ValueError, match="value_range"):
        make_grid(fastdl.zeros(2, 3, 4, 4), normalize=True, value_range=3)


@pytest.mark.parametrize("C", [1, 3])
def test_save_image_png_roundtrip(tmp_path, C):
    PIL = pytest.importorskip("PIL.Image")
    a = rng.random((5, C, 7, 9)).astype(np.float32)
    path = tmp_path / "g.png"
    save_image(fastdl.tensor(a), str(path), nrow=3, padding=1)
    got = np.asarray(PIL.open(path).convert("RGB")).transpose(2, 0, 1)
    want = np.clip(_reference_grid(a, 3, 1, 0) * 255 + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(got, want)
    buf = io.BytesIO()
    save_image(fastdl.tensor(a[0]), buf, format="png")
    got = np.asarray(PIL.open(io.BytesIO(buf.getvalue())).convert("RGB")).transpose(2, 0, 1)
    img = a[0] if C == 3 else np.repeat(a[0], 3, 0)
    np.testing.assert_array_equal(got, np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8))
