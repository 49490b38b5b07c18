"""``fastdl.transforms``: image transforms with ``torchvision.transforms.v2``'s names and
semantics, for Tensors and NumPy arrays of layout ``(C, H, W)`` (one image) or
``(N, C, H, W)`` (a batch; any leading dimensions).

Each transform is a callable object; the work is in ``fastdl.transforms.functional``, where
every operation is vectorised over all leading dimensions (NumPy; no Python loop over pixels
or images). A Tensor in gives a Tensor out, an array in gives an array out.

Randomness: as in torchvision, one call draws one set of parameters and applies it to the
whole input (every image of a batch gets the same crop/flip/jitter; for per-image
parameters, apply the transform per sample, e.g. in a ``Dataset`` with DataLoader workers).
Draws come from ``generator=`` (a ``numpy.random.Generator`` or fastdl generator) when given,
else from fastdl's global generator, so ``fastdl.manual_seed`` makes them reproducible.

Example::

    import fastdl.transforms as T
    train_tf = T.Compose([T.ToImage(), T.ToDtype(fastdl.float32, scale=True),
                          T.RandomCrop(28, padding=2), T.RandomRotation(10),
                          T.Normalize([0.1307], [0.3081])])
    x = train_tf(uint8_hw_array)          # (1, 28, 28) float32 Tensor
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..tensor import Tensor
from ..utils.data._rng import resolve_generator
from . import functional as F

__all__ = ["Compose", "ToImage", "ToDtype", "ToTensor", "PILToTensor", "Normalize", "Resize",
           "CenterCrop", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "RandomRotation", "RandomAffine", "ColorJitter",
           "RandomErasing", "GaussianBlur", "Lambda", "Pad", "Grayscale",
           "InterpolationMode", "functional"]


class InterpolationMode:
    """Interpolation names as torchvision's enum (plain strings here)."""
    NEAREST = "nearest"
    BILINEAR = "bilinear"


def _split(x):
    """(array, rewrap): a Tensor's array (rewrapped as a Tensor afterwards) or an array."""
    if isinstance(x, Tensor):
        return x._array, lambda a: Tensor._make(np.ascontiguousarray(a))
    if isinstance(x, np.ndarray):
        return x, lambda a: a
    if hasattr(x, "size") and hasattr(x, "mode") and hasattr(x, "getdata"):
        raise TypeError(f"a PIL image must go through ToImage() or ToTensor() first")
    raise TypeError(f"expected a fastdl Tensor or a NumPy array, got {type(x).__name__}")


class Transform:
    """Base class: ``__call__(x)`` applies ``transform(array)`` to the input's array."""

    def __call__(self, x):
        a, wrap = _split(x)
        return wrap(self.transform(a))

    def transform(self, a):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                         if not k.startswith("_") and k != "generator")
        return f"{type(self).__name__}({args})"


class _Random(Transform):
    def _rng(self):
        return resolve_generator(self.generator, type(self).__name__, fresh=False)


class Compose:
    """Apply ``transforms`` in order. Example: ``Compose([ToImage(), Normalize(m, s)])``"""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose({inner}\n)"


class Lambda(Transform):
    """Apply a user function. Example: ``Lambda(lambda x: x * 2)``"""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, x):
        return self.lambd(x)


def _image_array(pic):
    if isinstance(pic, Tensor):
        return pic._array, True
    if isinstance(pic, np.ndarray):
        a = pic
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3:
            raise ValueError(f"ToImage: expected an (H, W) or (H, W, C) array, got {pic.shape}")
        return a.transpose(2, 0, 1), False
    if hasattr(pic, "mode") and hasattr(pic, "getdata"):  # a PIL image
        a = np.asarray(pic)
        if a.ndim == 2:
            a = a[:, :, None]
        return a.transpose(2, 0, 1), False
    raise TypeError(f"ToImage: expected a PIL image, an (H, W[, C]) array or a Tensor, got "
                    f"{type(pic).__name__}")


class ToImage(Transform):
    """PIL image or (H, W[, C]) array -> (C, H, W) Tensor of the same dtype (uint8 stays
    uint8); a Tensor passes unchanged. Example: ``ToImage()(np.zeros((28, 28), np.uint8))``"""

    def __call__(self, pic):
        a, is_tensor = _image_array(pic)
        return pic if is_tensor else Tensor._make(np.ascontiguousarray(a))


class PILToTensor(ToImage):
    """As ``ToImage`` (torchvision's older name)."""


class ToDtype(Transform):
    """Convert to ``dtype``; ``scale=True`` maps integer ranges to [0, 1] floats (uint8 / 255)
    and back. Example: ``ToDtype(fastdl.float32, scale=True)``"""

    def __init__(self, dtype, scale=False):
        self.dtype = np.dtype(dtype) if not isinstance(dtype, dict) else dtype
        self.scale = bool(scale)

    def transform(self, a):
        return F.to_dtype(a, self.dtype, self.scale)


class ToTensor(Transform):
    """PIL image or (H, W[, C]) uint8 array -> (C, H, W) float32 Tensor in [0, 1]
    (torchvision's v1 ToTensor). Example: ``ToTensor()(img)``"""

    def __call__(self, pic):
        a, _ = _image_array(pic)
        return Tensor._make(np.ascontiguousarray(F.to_dtype(a, np.float32, scale=True)))


class Normalize(Transform):
    """``(x - mean[c]) / std[c]`` per channel. Example: ``Normalize([0.5] * 3, [0.5] * 3)``"""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = list(mean), list(std), inplace

    def transform(self, a):
        return F.normalize(a, self.mean, self.std, self.inplace)


class Resize(Transform):
    """Resize to ``size`` ((h, w) or the shorter edge); bilinear with antialias by default.
    Example: ``Resize((32, 32))``"""

    def __init__(self, size, interpolation="bilinear", max_size=None, antialias=True):
        self.size, self.interpolation = size, interpolation
        self.max_size, self.antialias = max_size, antialias

    def transform(self, a):
        return F.resize(a, self.size, self.interpolation, self.max_size, self.antialias)


class CenterCrop(Transform):
    """The central ``size`` box. Example: ``CenterCrop(24)``"""

    def __init__(self, size):
        self.size = size

    def transform(self, a):
        return F.center_crop(a, self.size)


class Pad(Transform):
    """Pad with ``padding`` (see ``functional.pad``). Example: ``Pad(4, padding_mode='reflect')``"""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def transform(self, a):
        return F.pad(a, self.padding, self.fill, self.padding_mode)


class Grayscale(Transform):
    """To greyscale with 1 or 3 output channels. Example: ``Grayscale(3)``"""

    def __init__(self, num_output_channels=1):
        self.num_output_channels = num_output_channels

    def transform(self, a):
        return F.rgb_to_grayscale(a, self.num_output_channels)


class RandomCrop(_Random):
    """A random ``size`` box, after optional ``padding`` (int, 2 or 4 values;
    ``padding_mode`` constant/edge/reflect/symmetric) and ``pad_if_needed``.
    fastdl extension: ``per_sample=True`` on a batch (N, C, H, W) draws one crop per image
    (one vectorised gather), instead of one crop for the whole batch.
    Example: ``RandomCrop(32, padding=4, padding_mode='reflect')``"""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0,
                 padding_mode="constant", *, per_sample=False, generator=None):
        self.size = F._pair(size, "RandomCrop", "size")
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode, self.generator = fill, padding_mode, generator
        self.per_sample = bool(per_sample)
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"RandomCrop: padding_mode must be constant, edge, reflect or "
                             f"symmetric, got {padding_mode!r}")

    def transform(self, a):
        if self.padding is not None:
            a = F.pad(a, self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        h, w = a.shape[-2:]
        if self.pad_if_needed and (h < th or w < tw):
            dw, dh = max(tw - w, 0), max(th - h, 0)
            a = F.pad(a, (dw, dh), self.fill, self.padding_mode)
            h, w = a.shape[-2:]
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        rng = self._rng()
        if self.per_sample and a.ndim == 4:
            n = a.shape[0]
            i = rng.integers(0, h - th + 1, n)
            j = rng.integers(0, w - tw + 1, n)
            rows = (i[:, None] + np.arange(th))[:, None, :, None]
            cols = (j[:, None] + np.arange(tw))[:, None, None, :]
            return a[np.arange(n)[:, None, None, None], np.arange(a.shape[1])[None, :, None, None],
                     rows, cols]
        i = int(rng.integers(0, h - th + 1))
        j = int(rng.integers(0, w - tw + 1))
        return F.crop(a, i, j, th, tw)


class RandomResizedCrop(_Random):
    """A random box of ``scale`` (area fraction) and ``ratio`` (aspect) resized to ``size``.
    Example: ``RandomResizedCrop(224)``"""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation="bilinear", antialias=True, *, generator=None):
        self.size = F._pair(size, "RandomResizedCrop", "size")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("RandomResizedCrop: scale and ratio should be of kind (min, max)")
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.interpolation, self.antialias, self.generator = interpolation, antialias, generator

    def get_params(self, h, w):
        rng = self._rng()
        area = h * w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(self.scale[0], self.scale[1])
            aspect = math.exp(rng.uniform(*log_ratio))
            cw = int(round(math.sqrt(target * aspect)))
            ch = int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                return int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw
        in_ratio = w / h
        if in_ratio < min(self.ratio):
            cw, ch = w, int(round(w / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            ch, cw = h, int(round(h * max(self.ratio)))
        else:
            cw, ch = w, h
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def transform(self, a):
        i, j, h, w = self.get_params(*a.shape[-2:])
        return F.resize(F.crop(a, i, j, h, w), self.size, self.interpolation,
                        antialias=self.antialias)


class RandomHorizontalFlip(_Random):
    """Mirror left-right with probability ``p`` (fastdl extension ``per_sample=True``: an
    independent draw per image of a batch). Example: ``RandomHorizontalFlip(0.5)``"""

    def __init__(self, p=0.5, *, per_sample=False, generator=None):
        self.p, self.generator, self.per_sample = p, generator, bool(per_sample)

    def transform(self, a):
        return _flip(self, a, F.hflip)


class RandomVerticalFlip(_Random):
    """Mirror top-bottom with probability ``p`` (``per_sample`` as RandomHorizontalFlip).
    Example: ``RandomVerticalFlip(0.5)``"""

    def __init__(self, p=0.5, *, per_sample=False, generator=None):
        self.p, self.generator, self.per_sample = p, generator, bool(per_sample)

    def transform(self, a):
        return _flip(self, a, F.vflip)


def _flip(t, a, flip):
    rng = t._rng()
    if t.per_sample and a.ndim == 4:
        mask = rng.random(a.shape[0]) < t.p
        return np.where(mask[:, None, None, None], flip(a), a)
    return flip(a) if rng.random() < t.p else a


def _range(x, who, name, center=0.0, bound=None):
    if isinstance(x, numbers.Number):
        if x < 0:
            raise ValueError(f"{who}: if {name} is a single number, it must be positive, got {x}")
        lo, hi = center - x, center + x
        if bound is not None:
            lo = max(lo, bound[0])
        return (float(lo), float(hi))
    x = tuple(float(v) for v in x)
    if len(x) != 2 or x[0] > x[1]:
        raise ValueError(f"{who}: {name} should be a number or a (min, max) pair, got {x}")
    if bound is not None and (x[0] < bound[0] or x[1] > bound[1]):
        raise ValueError(f"{who}: {name} values should be between {bound}, got {x}")
    return x


class RandomRotation(_Random):
    """Rotate by an angle drawn from ``degrees`` (d -> (-d, d)), counter-clockwise.
    Example: ``RandomRotation(15, interpolation='bilinear')``"""

    def __init__(self, degrees, interpolation="nearest", expand=False, center=None, fill=0,
                 *, generator=None):
        self.degrees = _range(degrees, "RandomRotation", "degrees")
        self.interpolation, self.expand, self.center, self.fill = interpolation, expand, center, fill
        self.generator = generator

    def transform(self, a):
        angle = float(self._rng().uniform(*self.degrees))
        return F.rotate(a, angle, self.interpolation, self.expand, self.center, self.fill)


class RandomAffine(_Random):
    """Random affine map: rotation from ``degrees``, translation up to ``translate`` (fractions
    of width, height), ``scale`` range, ``shear`` (x range, or x and y ranges), about the
    centre. Example: ``RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1))``"""

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation="nearest",
                 fill=0, center=None, *, generator=None):
        self.degrees = _range(degrees, "RandomAffine", "degrees")
        if translate is not None and (len(translate) != 2 or
                                      not all(0.0 <= t <= 1.0 for t in translate)):
            raise ValueError("RandomAffine: translation values should be between 0 and 1")
        if scale is not None and (len(scale) != 2 or not all(s > 0 for s in scale)):
            raise ValueError("RandomAffine: scale values should be positive")
        self.translate, self.scale = translate, scale
        if shear is None:
            self.shear = None
        elif isinstance(shear, numbers.Number):
            self.shear = _range(shear, "RandomAffine", "shear") + (0.0, 0.0)
        else:
            s = [float(v) for v in shear]
            if len(s) == 2:
                self.shear = (s[0], s[1], 0.0, 0.0)
            elif len(s) == 4:
                self.shear = tuple(s)
            else:
                raise ValueError("RandomAffine: shear should be a number or 2 or 4 values")
        self.interpolation, self.fill, self.center = interpolation, fill, center
        self.generator = generator

    def get_params(self, h, w):
        rng = self._rng()
        angle = float(rng.uniform(*self.degrees))
        if self.translate is not None:
            mx, my = self.translate[0] * w, self.translate[1] * h
            tx, ty = int(round(rng.uniform(-mx, mx))), int(round(rng.uniform(-my, my)))
        else:
            tx = ty = 0
        scale = float(rng.uniform(*self.scale)) if self.scale is not None else 1.0
        shx = shy = 0.0
        if self.shear is not None:
            shx = float(rng.uniform(self.shear[0], self.shear[1]))
            if self.shear[2] != 0.0 or self.shear[3] != 0.0:
                shy = float(rng.uniform(self.shear[2], self.shear[3]))
        return angle, (tx, ty), scale, (shx, shy)

    def transform(self, a):
        angle, t, s, sh = self.get_params(*a.shape[-2:])
        return F.affine(a, angle, t, s, sh, self.interpolation, self.fill, self.center)


class ColorJitter(_Random):
    """Random brightness, contrast, saturation (factors in [max(0, 1-v), 1+v]) and hue
    (shift in [-h, h], h <= 0.5), applied in a random order.
    Example: ``ColorJitter(0.4, 0.4, 0.4, 0.1)``"""

    def __init__(self, brightness=None, contrast=None, saturation=None, hue=None, *,
                 generator=None):
        def factor(v, name):
            if v is None or (isinstance(v, numbers.Number) and v == 0):
                return None
            return _range(v, "ColorJitter", name, center=1.0, bound=(0.0, float("inf")))
        self.brightness = factor(brightness, "brightness")
        self.contrast = factor(contrast, "contrast")
        self.saturation = factor(saturation, "saturation")
        self.hue = None if hue is None or hue == 0 else _range(hue, "ColorJitter", "hue",
                                                               bound=(-0.5, 0.5))
        self.generator = generator

    def transform(self, a):
        rng = self._rng()
        order = rng.permutation(4)
        b = None if self.brightness is None else float(rng.uniform(*self.brightness))
        c = None if self.contrast is None else float(rng.uniform(*self.contrast))
        s = None if self.saturation is None else float(rng.uniform(*self.saturation))
        h = None if self.hue is None else float(rng.uniform(*self.hue))
        for k in order:
            if k == 0 and b is not None:
                a = F.adjust_brightness(a, b)
            elif k == 1 and c is not None:
                a = F.adjust_contrast(a, c)
            elif k == 2 and s is not None:
                a = F.adjust_saturation(a, s)
            elif k == 3 and h is not None:
                a = F.adjust_hue(a, h)
        return a


class RandomErasing(_Random):
    """With probability ``p`` erase a random box of ``scale`` (area fraction) and ``ratio``
    with ``value`` (a number, per-channel values, or "random" for Gaussian noise).
    Example: ``RandomErasing(p=0.5, value=0)``"""

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False,
                 *, generator=None):
        if not 0 <= p <= 1:
            raise ValueError("Random erasing probability should be between 0 and 1")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("Scale and ratio should be of kind (min, max)")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("Scale should be between 0 and 1")
        if isinstance(value, str) and value != "random":
            raise ValueError("If value is str, it should be 'random'")
        self.p, self.scale, self.ratio, self.value = p, tuple(scale), tuple(ratio), value
        self.inplace, self.generator = inplace, generator

    def transform(self, a):
        rng = self._rng()
        if rng.random() >= self.p:
            return a
        c, h, w = a.shape[-3], a.shape[-2], a.shape[-1]
        area = h * w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            ea = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            eh = int(round(math.sqrt(ea * aspect)))
            ew = int(round(math.sqrt(ea / aspect)))
            if not (eh < h and ew < w):
                continue
            if self.value == "random":
                v = rng.standard_normal((c, eh, ew)).astype(_float_of(a))
            elif isinstance(self.value, numbers.Number):
                v = self.value
            else:
                v = np.asarray(self.value, a.dtype).reshape(-1, 1, 1)
            i = int(rng.integers(0, h - eh + 1))
            j = int(rng.integers(0, w - ew + 1))
            return F.erase(a, i, j, eh, ew, v, self.inplace)
        return a


def _float_of(a):
    return a.dtype if a.dtype.kind == "f" else np.float32


class GaussianBlur(_Random):
    """Gaussian blur with ``kernel_size`` and a sigma drawn from ``sigma`` ((min, max) or one
    value). Example: ``GaussianBlur(5, sigma=(0.1, 2.0))``"""

    def __init__(self, kernel_size, sigma=(0.1, 2.0), *, generator=None):
        kx, ky = F._pair(kernel_size, "GaussianBlur", "kernel_size")
        if kx <= 0 or ky <= 0 or kx % 2 == 0 or ky % 2 == 0:
            raise ValueError("Kernel size value should be an odd and positive number.")
        self.kernel_size = (kx, ky)
        if isinstance(sigma, numbers.Number):
            if sigma <= 0:
                raise ValueError("If sigma is a single number, it must be positive.")
            sigma = (float(sigma), float(sigma))
        elif len(sigma) != 2 or not 0.0 < sigma[0] <= sigma[1]:
            raise ValueError("sigma values should be positive and of the form (min, max).")
        self.sigma, self.generator = tuple(sigma), generator

    def transform(self, a):
        s = float(self._rng().uniform(*self.sigma))
        return F.gaussian_blur(a, self.kernel_size, (s, s))
