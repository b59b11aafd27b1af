"""IDX files (the MNIST format) and the two datasets shipped in it: Fashion-MNIST and MNIST."""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from . import download

# Debian/Ubuntu package dataset-fashion-mnist installs the four .gz files here.
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"

FASHION_MNIST_URLS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
MNIST_URLS = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"]

FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
MNIST_CLASSES = [str(i) for i in range(10)]

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ALL_FILES = [f + ".gz" for pair in SPLIT_FILES.values() for f in pair]

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """The file's IDX bytes, gunzipped when it is gzip (by content, whatever its name)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        # zlib in one call is noticeably faster than gzip.open().read() on the 26 MB train file
        return zlib.decompress(raw, wbits=31)
    except zlib.error:
        pass
    try:  # multi-member gzip files, which a single zlib call stops after the first member of
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: truncated or corrupt gzip file ({download.one_line(e)}); "
                        f"delete it and download it again") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Read an unsigned-byte IDX file (.gz or plain) into a uint8 array of the header's shape."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number {data[:4].hex() or 'empty file'})")
    dtype_code, ndim = data[2], data[3]
    if dtype_code != 0x08:
        raise DataError(f"{path}: IDX data type 0x{dtype_code:02x} is not supported "
                        f"(only unsigned bytes, 0x08, as in MNIST)")
    if ndim < 1 or len(data) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    start = 4 + 4 * ndim
    expected = int(np.prod(dims, dtype=np.int64))
    have = len(data) - start
    if have < expected:
        what = f"{dims[0]} images of {'x'.join(map(str, dims[1:]))}" if ndim == 3 else f"{dims[0]} labels"
        raise DataError(f"{path}: truncated IDX file: header says {what} ({expected} bytes) "
                        f"but only {have} bytes follow; delete it and download it again")
    if have > expected:
        raise DataError(f"{path}: corrupt IDX file: {have - expected} bytes after the "
                        f"{'x'.join(map(str, dims))} data the header describes")
    # copy: frombuffer over bytes is read-only, and torch wants a writable, owned array
    return np.frombuffer(data, np.uint8, count=expected, offset=start).reshape(dims).copy()


def is_idx(path: Path) -> bool:
    """Cheap check that a (possibly gzipped) file starts like an IDX file, for fresh downloads."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        opener = gzip.open if head == _GZIP_MAGIC else open
        with opener(path, "rb") as f:
            magic = f.read(4)
    except (OSError, EOFError, zlib.error):
        return False
    return len(magic) == 4 and magic[:2] == b"\0\0" and magic[2] == 0x08 and magic[3] in (1, 3)


def _find(folder: Path, stem: str) -> Path | None:
    """``stem`` in ``folder`` as .gz, plain, or with the dotted names some mirrors use."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem + ".gz", stem, dotted + ".gz", dotted):
        p = folder / name
        if p.is_file():
            return p
    return None


def _load_pair(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"{images_path}: expected a 3-d IDX image file (N, H, W), got shape {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected a 1-d IDX label file, got shape {labels.shape}")
    if len(labels) != len(images):
        raise DataError(f"{labels_path}: {len(labels)} labels for the {len(images)} images "
                        f"in {images_path.name}; the two files do not belong together")
    # layout: (N, H, W) -> (N, 1, H, W): IDX images are single-channel, row-major
    return (torch.from_numpy(images).unsqueeze(1).contiguous(),
            torch.from_numpy(labels.astype(np.int64)))


def search_folders(name: str, data_dir: str | None = None) -> list[Path]:
    """Where ``name`` (fashion-mnist or mnist) is looked for, in order: ``data_dir`` and its
    ``name`` subfolder, Debian's package folder for Fashion-MNIST (unless
    ``$GANFORGE_SYSTEM_DATA`` is 0), then the download cache."""
    folders: list[Path] = []
    if data_dir:
        d = Path(data_dir).expanduser()
        folders += [d, d / name]
    if name == "fashion-mnist" and download.system_data_enabled():
        folders.append(Path(DEBIAN_FASHION_MNIST))
    folders.append(download.cache_root() / name)
    return folders


def find_local(name: str, data_dir: str | None = None, split: str = "train") -> Path | None:
    """The first folder of :func:`search_folders` holding ``split``'s two files; None when the
    split would have to be downloaded."""
    stems = SPLIT_FILES[split]
    return next((f for f in search_folders(name, data_dir) if all(_find(f, s) for s in stems)), None)


def load_idx_dataset(name: str, data_dir: str | None, split: str, progress: bool = True):
    """Load ``fashion-mnist`` or ``mnist``; returns (images, labels, class_names, folder).

    Looks where :func:`search_folders` says; downloads the split's two files into the cache if
    they are in none of those folders.
    """
    stems = SPLIT_FILES[split]
    folders = search_folders(name, data_dir)
    folder = find_local(name, data_dir, split)
    if folder is not None:
        found = [_find(folder, s) for s in stems]
        images, labels = _load_pair(found[0], found[1])
        return images, labels, list(_classes(name)), str(folder)

    # Not found anywhere: fetch the split's two files into the cache.
    tried = ", ".join(str(f) for f in dict.fromkeys(folders))
    urls = FASHION_MNIST_URLS if name == "fashion-mnist" else MNIST_URLS
    target = download.cache_root() / name
    created = download.missing_folders(target)  # removed again if nothing usable arrives
    for stem in stems:
        if _find(target, stem):
            continue
        dest = target / (stem + ".gz")
        reason = None
        for base in urls:
            try:
                download.download_file(base + dest.name, dest, progress=progress)
            except OSError as e:
                reason = download.one_line(e)
                continue
            if is_idx(dest):
                break
            dest.unlink(missing_ok=True)
            reason = f"{base + dest.name} did not return a gzip IDX file"
        else:
            download.remove_if_empty(created)
            raise DataError(f"{name}: {dest.name} not found in {tried}, and the download failed "
                            f"({reason}); {_how_to_fix(name)}")
    found = [_find(target, s) for s in stems]
    images, labels = _load_pair(found[0], found[1])
    return images, labels, list(_classes(name)), str(target)


def _classes(name: str) -> list[str]:
    return FASHION_MNIST_CLASSES if name == "fashion-mnist" else MNIST_CLASSES


def _how_to_fix(name: str) -> str:
    files = ", ".join(ALL_FILES)
    if name == "fashion-mnist":
        return (f"apt-get install dataset-fashion-mnist, or put the four IDX .gz files ({files}) "
                f"in --data-dir DIR")
    return f"put the four IDX files ({files}, .gz or not) in --data-dir DIR"
