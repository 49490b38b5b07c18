"""fastdl.transforms: each operation against a NumPy reference or torch (interpolate,
grid_sample, conv2d) when installed; one image and a batch; Tensor and array in/out;
reproducibility under fastdl.manual_seed and generator=."""
import colorsys

import numpy as np
import pytest

import fastdl
import fastdl.transforms as T
import fastdl.transforms.functional as F


@pytest.fixture
def img(rng):
    return rng.random((3, 13, 17)).astype(np.float32)


def test_resize_matches_torch_interpolate(rng):
    torch = pytest.importorskip("torch")
    x = rng.random((2, 3, 17, 23)).astype(np.float32)
    for size in [(8, 11), (30, 40), (17, 5), (40, 9)]:
        for aa in (True, False):
            ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode="bilinear",
                                                  align_corners=False, antialias=aa).numpy()
            np.testing.assert_allclose(F.resize(x, size, antialias=aa), ref, atol=3e-6)
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=(8, 11), mode="nearest")
    np.testing.assert_array_equal(F.resize(x, (8, 11), "nearest"), ref.numpy())


def test_resize_invariants(img):
    up = F.resize(img, (26, 34), "nearest")
    np.testing.assert_array_equal(up, img.repeat(2, axis=1).repeat(2, axis=2))
    const = np.full((1, 9, 9), 0.25, np.float32)
    np.testing.assert_allclose(F.resize(const, (4, 13)), 0.25, atol=1e-6)
    assert T.Resize(10)(img).shape == (3, 10, 13)  # shorter edge -> 10, aspect kept
    u8 = (img * 255).astype(np.uint8)
    out = F.resize(u8, (6, 8))
    assert out.dtype == np.uint8
    np.testing.assert_allclose(out, F.resize(u8.astype(np.float32), (6, 8)), atol=0.5 + 1e-4)


def test_crops_pads_flips(img):
    np.testing.assert_array_equal(F.crop(img, 2, 3, 5, 4), img[:, 2:7, 3:7])
    np.testing.assert_array_equal(F.center_crop(img, (5, 5)), img[:, 4:9, 6:11])
    big = F.crop(img, -1, -2, 15, 20)  # outside the image: zeros
    assert big.shape == (3, 15, 20) and big[:, 0].sum() == 0
    np.testing.assert_array_equal(big[:, 1:14, 2:19], img)
    for mode in ("constant", "edge", "reflect", "symmetric"):
        ref = np.pad(img, ((0, 0), (2, 4), (1, 3)), mode=mode)
        np.testing.assert_array_equal(F.pad(img, (1, 2, 3, 4), padding_mode=mode), ref)
    np.testing.assert_array_equal(F.hflip(img), img[:, :, ::-1])
    np.testing.assert_array_equal(F.vflip(img), img[:, ::-1, :])
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(4, padding=1, padding_mode="wrap")


def test_rotation_and_affine(img, rng):
    sq = rng.random((2, 3, 7, 7)).astype(np.float32)
    for k in (1, 2, 3):
        for mode in ("nearest", "bilinear"):
            np.testing.assert_allclose(F.rotate(sq, 90 * k, mode), np.rot90(sq, k, axes=(2, 3)),
                                       atol=1e-6)
    np.testing.assert_array_equal(F.affine(img, 0, (0, 0), 1.0, (0, 0)), img)
    shifted = F.affine(img, 0, (3, -2), 1.0, (0, 0), fill=0.5)
    np.testing.assert_array_equal(shifted[:, :11, 3:], img[:, 2:, :14])
    assert np.all(shifted[:, :, :3] == 0.5) and np.all(shifted[:, 11:, :] == 0.5)
    rot = F.rotate(np.ones((1, 10, 20), np.float32), 90, expand=True)
    assert rot.shape == (1, 20, 10) and rot.min() == 1.0


def test_affine_sampling_matches_grid_sample(img):
    torch = pytest.importorskip("torch")
    h, w = img.shape[-2:]
    angle, t, s, sh = 30.0, (2, -1), 1.2, (10.0, 5.0)
    inv = np.linalg.inv(F._rss(angle, s, sh))
    gy, gx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    u, v = gx - (w - 1) / 2 - t[0], gy - (h - 1) / 2 - t[1]
    sx = inv[0, 0] * u + inv[0, 1] * v + (w - 1) / 2
    sy = inv[1, 0] * u + inv[1, 1] * v + (h - 1) / 2
    grid = torch.from_numpy(np.stack([(2 * sx + 1) / w - 1, (2 * sy + 1) / h - 1], -1)[None])
    for mode in ("bilinear", "nearest"):
        ref = torch.nn.functional.grid_sample(torch.from_numpy(img[None]), grid.float(),
                                              mode=mode, align_corners=False).numpy()[0]
        np.testing.assert_allclose(F.affine(img, angle, t, s, sh, mode, 0), ref, atol=2e-6)


def _blur_ref(x, k, sigma):
    g = np.exp(-0.5 * (np.linspace(-(k - 1) / 2, (k - 1) / 2, k) / sigma) ** 2)
    g /= g.sum()
    p = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2)), mode="reflect")
    out = np.zeros_like(x, dtype=np.float64)
    for i in range(x.shape[1]):
        for j in range(x.shape[2]):
            out[:, i, j] = (p[:, i:i + k, j:j + k] * np.outer(g, g)).sum(axis=(1, 2))
    return out


def test_gaussian_blur(img):
    np.testing.assert_allclose(F.gaussian_blur(img, 5, 1.3), _blur_ref(img, 5, 1.3), atol=1e-6)
    with pytest.raises(ValueError, match="odd"):
        T.GaussianBlur(4)


def test_color_adjustments(img, rng):
    np.testing.assert_allclose(F.adjust_brightness(img, 1.7), np.clip(1.7 * img, 0, 1))
    gray = 0.2989 * img[0] + 0.587 * img[1] + 0.114 * img[2]
    np.testing.assert_allclose(F.rgb_to_grayscale(img)[0], gray, rtol=1e-6)
    np.testing.assert_allclose(F.adjust_saturation(img, 0.3),
                               np.clip(0.3 * img + 0.7 * gray, 0, 1), atol=1e-6)
    np.testing.assert_allclose(F.adjust_contrast(img, 1.5),
                               np.clip(1.5 * img - 0.5 * gray.mean(), 0, 1), atol=1e-6)
    np.testing.assert_allclose(F.adjust_hue(img, 0.0), img, atol=1e-6)
    out = F.adjust_hue(img, 0.2)
    for (i, j) in [(0, 0), (5, 7), (12, 16)]:
        h, s, v = colorsys.rgb_to_hsv(*img[:, i, j])
        np.testing.assert_allclose(out[:, i, j], colorsys.hsv_to_rgb((h + 0.2) % 1, s, v),
                                   atol=1e-5)
    with pytest.raises(ValueError, match="hue_factor"):
        F.adjust_hue(img, 0.7)
    with pytest.raises(ValueError, match="brightness"):
        T.ColorJitter(brightness=-1)


def test_normalize_and_dtypes(img):
    out = T.Normalize([0.5, 0.4, 0.3], [0.2, 0.25, 0.5])(fastdl.tensor(img))
    ref = (img - np.array([0.5, 0.4, 0.3], np.float32)[:, None, None]) / \
        np.array([0.2, 0.25, 0.5], np.float32)[:, None, None]
    assert isinstance(out, fastdl.Tensor)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
    with pytest.raises(TypeError, match="float"):
        T.Normalize([0.5], [0.5])(np.zeros((1, 2, 2), np.uint8))
    hwc = (np.arange(2 * 3 * 3) % 256).astype(np.uint8).reshape(2, 3, 3)
    img8 = T.ToImage()(hwc)
    assert img8.shape == (3, 2, 3) and img8.numpy().dtype == np.uint8
    f = T.ToDtype(fastdl.float32, scale=True)(img8)
    np.testing.assert_allclose(f.numpy(), hwc.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    np.testing.assert_allclose(T.ToTensor()(hwc).numpy(), f.numpy())
    back = F.to_dtype(f.numpy(), np.uint8, scale=True)
    np.testing.assert_array_equal(back, hwc.transpose(2, 0, 1))


def test_random_transforms_are_reproducible_and_batch_consistent(rng):
    batch = rng.random((4, 3, 20, 20)).astype(np.float32)
    tf = T.Compose([T.RandomCrop(16, padding=2, padding_mode="reflect"),
                    T.RandomHorizontalFlip(), T.RandomAffine(10, (0.1, 0.1), (0.9, 1.1), 5),
                    T.ColorJitter(0.3, 0.3, 0.3, 0.05), T.GaussianBlur(3),
                    T.RandomErasing(p=1.0), T.RandomResizedCrop(12),
                    T.RandomRotation(20, interpolation="bilinear"), T.RandomVerticalFlip()])
    fastdl.manual_seed(7)
    a = tf(batch)
    fastdl.manual_seed(7)
    b = tf(batch)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4, 3, 12, 12)
    # one parameter draw for the whole batch: each image gets what it gets alone
    fastdl.manual_seed(7)
    one = tf(batch[2])
    np.testing.assert_allclose(one, a[2], atol=1e-6)
    # a generator makes the transform independent of the global stream
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    c1 = T.RandomCrop(8, generator=g1)(fastdl.tensor(batch))
    fastdl.randn(5)
    c2 = T.RandomCrop(8, generator=g2)(fastdl.tensor(batch))
    assert isinstance(c1, fastdl.Tensor)
    np.testing.assert_array_equal(c1.numpy(), c2.numpy())


def test_random_erasing_and_resized_crop_params(rng):
    x = np.ones((3, 32, 32), np.float32)
    for seed in range(20):
        out = T.RandomErasing(p=1.0, scale=(0.1, 0.2), value=0,
                              generator=np.random.default_rng(seed))(x)
        frac = (out[0] == 0).mean()
        assert 0.05 <= frac <= 0.25 and np.all((out == 0).sum(0) % 3 == 0)
    rrc = T.RandomResizedCrop(10, scale=(0.5, 0.5), ratio=(1.0, 1.0),
                              generator=np.random.default_rng(0))
    i, j, h, w = rrc.get_params(32, 32)
    assert (h, w) == (23, 23) and 0 <= i <= 9 and 0 <= j <= 9
    with pytest.raises(TypeError, match="Tensor or a NumPy array"):
        T.RandomCrop(3)([1, 2, 3])
    with pytest.raises(ValueError, match="larger than input"):
        T.RandomCrop(40)(x)


def test_per_sample_batch_forms(rng):
    batch = rng.random((64, 2, 10, 10)).astype(np.float32)
    out = T.RandomCrop(8, padding=1, per_sample=True, generator=np.random.default_rng(0))(batch)
    assert out.shape == (64, 2, 8, 8)
    padded = np.pad(batch, ((0, 0), (0, 0), (1, 1), (1, 1)))
    offsets = set()
    for k in range(64):  # each image is some 8x8 window of its own padded image
        hits = [(i, j) for i in range(5) for j in range(5)
                if np.array_equal(out[k], padded[k, :, i:i + 8, j:j + 8])]
        assert hits
        offsets.add(hits[0])
    assert len(offsets) > 5  # not one crop for the whole batch
    fl = T.RandomHorizontalFlip(per_sample=True, generator=np.random.default_rng(1))(batch)
    flipped = [np.array_equal(fl[k], batch[k, :, :, ::-1]) for k in range(64)]
    kept = [np.array_equal(fl[k], batch[k]) for k in range(64)]
    assert all(a or b for a, b in zip(flipped, kept)) and 10 < sum(flipped) < 54
