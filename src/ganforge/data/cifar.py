"""CIFAR-10 in its python-pickle form (the ``cifar-10-batches-py`` folder)."""
from __future__ import annotations

import pickle
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from ..errors import DataError
from . import download

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
SPLIT_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

# The batches hold only numpy arrays, lists, dicts and byte strings, so unpickling is limited to
# the globals those need: a file that asks for anything else is not CIFAR, and this keeps a
# tampered download from running code.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            d = _Unpickler(f, encoding="bytes").load()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    except Exception as e:  # pickle raises a zoo of types on damaged files
        raise DataError(f"{path}: not a CIFAR-10 python batch ({download.one_line(e)})") from None
    if not isinstance(d, dict):
        raise DataError(f"{path}: not a CIFAR-10 python batch (holds a {type(d).__name__}, not a dict)")
    # Files written by Python 3 without encoding="bytes" have str keys; accept both.
    return {k.encode() if isinstance(k, str) else k: v for k, v in d.items()}


def _find_folder(root: Path) -> Path | None:
    for d in (root, root / FOLDER, root / "cifar10" / FOLDER):
        if (d / "data_batch_1").is_file() or (d / "test_batch").is_file():
            return d
    return None


def _extract(archive: Path, into: Path) -> None:
    """Unpack the tarball, refusing members that would land outside ``into`` or are not plain
    files/folders (links, devices), whatever tarfile's own filter would allow."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                p = PurePosixPath(m.name)
                if p.is_absolute() or ".." in p.parts or not (m.isfile() or m.isdir()):
                    raise DataError(f"{archive}: unsafe archive member {m.name!r}; not extracting it")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(into, members=members, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                tar.extractall(into, members=members)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(f"{archive}: cannot unpack ({download.one_line(e)}); delete it and try again") from None


def _download(progress: bool, tried: str) -> Path:
    target = download.cache_root() / "cifar10"  # created by the download, and removed again if it fails
    archive = target / "cifar-10-python.tar.gz"
    if not archive.is_file():
        try:
            download.download_file(URL, archive, progress=progress)
        except OSError as e:
            raise DataError(f"cifar10: {FOLDER} not found in {tried}, and the download failed "
                            f"({download.one_line(e)}); put the extracted {FOLDER} folder "
                            f"(or its parent) in --data-dir DIR") from None
    _extract(archive, target)
    folder = _find_folder(target)
    if folder is None:
        raise DataError(f"{archive}: unpacked, but no {FOLDER} folder inside; delete it and try again")
    archive.unlink(missing_ok=True)  # 160 MB that is no longer needed
    return folder


def _class_names(folder: Path) -> list[str]:
    meta = folder / "batches.meta"
    if meta.is_file():
        names = _unpickle(meta).get(b"label_names")
        if isinstance(names, (list, tuple)) and names:
            return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names]
    return list(CLASSES)


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(path)
    data, labels = d.get(b"data"), d.get(b"labels", d.get(b"fine_labels"))
    if not isinstance(data, np.ndarray) or labels is None:
        raise DataError(f"{path}: not a CIFAR-10 python batch (no b'data' array and b'labels' list)")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: b'data' should be uint8 of shape (N, 3072), got "
                        f"{data.dtype} {tuple(data.shape)}")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (ValueError, TypeError, OverflowError):
        raise DataError(f"{path}: b'labels' should be a list of class ids 0-9, got "
                        f"{download.one_line(repr(labels), 60)}") from None
    if labels.shape != (data.shape[0],):
        raise DataError(f"{path}: {labels.size} labels for {data.shape[0]} images")
    return data, labels


def load_cifar10(data_dir: str | None, split: str, progress: bool = True):
    """Load CIFAR-10; returns (images uint8 (N,3,32,32), labels, class_names, folder).

    ``data_dir`` may be the ``cifar-10-batches-py`` folder itself or its parent. Without one,
    uses (or downloads into) ``cache_dir()/cifar10``.
    """
    roots = [Path(data_dir).expanduser()] if data_dir else []
    roots.append(download.cache_root() / "cifar10")
    folder = next((f for f in map(_find_folder, roots) if f is not None), None)
    if folder is None:
        folder = _download(progress, ", ".join(map(str, roots)))
    missing = [n for n in SPLIT_FILES[split] if not (folder / n).is_file()]
    if missing:
        raise DataError(f"{folder}: missing {', '.join(missing)} for --split {split}")
    parts = [_read_batch(folder / n) for n in SPLIT_FILES[split]]
    data = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    # layout: each 3072-byte row is the R plane, then G, then B, each 32x32 row-major,
    # which is exactly (3, 32, 32) in C order: (N, 3072) -> (N, 3, 32, 32) needs no copy.
    images = torch.from_numpy(np.ascontiguousarray(data).reshape(-1, 3, 32, 32))
    names = _class_names(folder)
    if labels.size and (labels.min() < 0 or labels.max() >= len(names)):
        raise DataError(f"{folder}: labels range {labels.min()}..{labels.max()} but there are "
                        f"{len(names)} class names")
    return images, torch.from_numpy(labels), names, str(folder)
