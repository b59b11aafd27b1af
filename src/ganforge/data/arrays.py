"""Images stored as numpy arrays in a .npy or .npz file."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .download import one_line

IMAGE_KEYS = ("images", "x", "x_train")
LABEL_KEYS = ("labels", "y", "y_train")
NAME_KEYS = ("class_names", "label_names")


def _open(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e):
            raise DataError(f"{path}: holds Python objects (dtype object), which are not loaded "
                            f"for safety; save the images as a uint8 array") from None
        raise DataError(f"{path}: not a readable numpy file ({one_line(e)})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable numpy file ({one_line(e)})") from None


def _get(npz, path: Path, key: str) -> np.ndarray:
    try:
        arr = npz[key]
    except ValueError:  # an object array inside the archive
        raise DataError(f"{path}: array {key!r} holds Python objects (dtype object); "
                        f"save it as a uint8 array") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: array {key!r} is unreadable ({one_line(e)})") from None
    if not isinstance(arr, np.ndarray):  # numpy hands back the raw bytes of a member that is no .npy
        raise DataError(f"{path}: member {key!r} is not a numpy array (an .npz holds .npy files; save the "
                        f"images with numpy.savez)")
    return arr


def _pick(npz, path: Path) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    keys = list(npz.files)
    key = next((k for k in IMAGE_KEYS if k in keys), None)
    if key is None:
        if len(keys) != 1:
            raise DataError(f"{path}: cannot tell which array holds the images (arrays: "
                            f"{', '.join(keys) or 'none'}); name it one of {', '.join(IMAGE_KEYS)}")
        key = keys[0]
    images = _get(npz, path, key)
    lkey = "y_train" if key == "x_train" and "y_train" in keys else next(
        (k for k in LABEL_KEYS if k in keys), None)
    labels = _get(npz, path, lkey) if lkey else None
    names = None
    nkey = next((k for k in NAME_KEYS if k in keys), None)
    if nkey:
        arr = _get(npz, path, nkey)
        if arr.ndim == 1 and arr.dtype.kind in "US":
            names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in arr.tolist()]
    return images, labels, names


def _to_uint8(a: np.ndarray, path: Path) -> np.ndarray:
    """uint8 as-is; integers within 0..255; floats in [0, 1] (x255) or [0, 255]."""
    if a.dtype == np.uint8:
        return a
    kind = a.dtype.kind
    if kind not in "iuf":
        raise DataError(f"{path}: images have dtype {a.dtype}; expected uint8 "
                        f"(or floats in [0, 1] or [0, 255])")
    if a.size == 0:
        return a.astype(np.uint8)
    if kind == "f" and not np.isfinite(a).all():
        raise DataError(f"{path}: images contain NaN or infinite values")
    lo, hi = a.min(), a.max()
    if kind in "iu":
        if lo < 0 or hi > 255:
            raise DataError(f"{path}: {a.dtype} images range {lo}..{hi}; expected values in 0..255")
        return a.astype(np.uint8)
    if lo >= 0 and hi <= 1:
        a = a * 255.0
    elif not (lo >= 0 and hi <= 255):
        raise DataError(f"{path}: float images range {lo:g}..{hi:g}; expected values in [0, 1] "
                        f"or [0, 255] (rescale them, e.g. from [-1, 1] with (x + 1) / 2)")
    return np.rint(a).clip(0, 255).astype(np.uint8)


def _to_nchw(a: np.ndarray, path: Path) -> np.ndarray:
    if a.ndim == 3:
        return a[:, None]
    if a.ndim == 4:
        if a.shape[1] in (1, 3) and a.shape[3] not in (1, 3):
            return a
        if a.shape[3] in (1, 3):
            return a.transpose(0, 3, 1, 2)
        c = a.shape[3] if a.shape[1] not in (1, 3) else a.shape[1]
        raise DataError(f"{path}: images of shape {a.shape} have {c} channels; channels must be "
                        f"1 or 3 (drop the alpha channel of RGBA images)")
    raise DataError(f"{path}: images have shape {a.shape}; expected (N, H, W), (N, H, W, C) "
                    f"or (N, C, H, W) with C 1 or 3")


def load_array_file(path: str | Path):
    """Load images (and labels if present) from .npy/.npz; returns
    (images uint8 (N,C,H,W), labels int64 or None, class_names or None)."""
    path = Path(path)
    obj = _open(path)
    if isinstance(obj, np.ndarray):
        images, labels, names = obj, None, None
    else:
        with obj:
            images, labels, names = _pick(obj, path)
    if images.ndim == 0 or images.shape[0] == 0:
        raise DataError(f"{path}: holds no images (array shape {images.shape})")
    if images.dtype.kind not in "iuf":
        raise DataError(f"{path}: images have dtype {images.dtype}; expected uint8 "
                        f"(or floats in [0, 1] or [0, 255])")
    # shape first: its message is the more useful one, and it costs nothing on a big array
    images = _to_nchw(images, path)
    images = _to_uint8(images, path)
    if images.shape[2] == 0 or images.shape[3] == 0:
        raise DataError(f"{path}: images have zero height or width ({images.shape})")
    # layout: (N, C, H, W), C-contiguous, as the rest of ganforge expects
    images_t = torch.from_numpy(np.ascontiguousarray(images))
    labels_t = None
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.shape != (images.shape[0],):
            raise DataError(f"{path}: labels have shape {labels.shape} but there are "
                            f"{images.shape[0]} images; expected one integer label per image")
        if labels.dtype.kind == "f" and np.all(np.mod(labels, 1) == 0):
            labels = labels.astype(np.int64)
        if labels.dtype.kind not in "iu":
            raise DataError(f"{path}: labels have dtype {labels.dtype}; expected integers")
        labels_t = torch.from_numpy(labels.astype(np.int64))
        if names is not None and (labels.min() < 0 or labels.max() >= len(names)):
            names = None  # names that do not cover the labels would mislabel classes
    return images_t, labels_t, names
