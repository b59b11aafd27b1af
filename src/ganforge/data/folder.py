"""A folder of image files, in any sizes and modes, decoded once into one uint8 tensor."""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .download import one_line
from .transform import class_index

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# Modes that carry no colour; images in them count as greyscale when choosing channels.
GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
_PROGRESS_OVER = 1000  # show a bar only when decoding takes long enough to wonder about
_BATCH = 256


def list_images(root: Path) -> tuple[list[Path], list[Path]]:
    """Image files under ``root`` (recursive, sorted by relative path) and the other files.

    Hidden files and folders are ignored: ``.DS_Store``, ``._x.png`` resource forks and
    ``.ipynb_checkpoints`` are not images the user meant to train on. Links are followed, to
    files and to folders alike (a folder reached twice, by a link loop, is read once); a link
    to nothing is listed with the images, and reading it fails like any unreadable file.
    """
    images, others = [], []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a link back into the tree: its files are listed already
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith("."):
                continue
            p = Path(dirpath, name)
            (images if p.suffix.lower() in EXTENSIONS else others).append(p)
    images.sort(key=lambda p: p.relative_to(root).parts)
    others.sort()
    return images, others


def folder_labels(root: Path, files: list[Path]) -> tuple[list[int] | None, list[str] | None]:
    """ImageFolder convention: when every image sits inside a first-level subfolder, the
    subfolder names (sorted) are the classes. Otherwise there are no labels."""
    tops = [p.relative_to(root).parts for p in files]
    if not tops or any(len(t) < 2 for t in tops):
        return None, None
    names = sorted({t[0] for t in tops})
    index = {n: i for i, n in enumerate(names)}
    return [index[t[0]] for t in tops], names


def stray_images(root: Path, files: list[Path]) -> tuple[list[Path], int]:
    """Images directly in ``root`` of what otherwise is a class folder (two or more first-level
    sub-folders holding most of the images): the strays that keep it from having labels.
    Returns (the strays, sorted; the number of sub-folders holding images), or ([], 0) when the
    folder does not look like a class folder with a few images in the wrong place."""
    tops = [p.relative_to(root).parts for p in files]
    subfolders = {t[0] for t in tops if len(t) >= 2}
    strays = [p for p, t in zip(files, tops) if len(t) < 2]
    if len(subfolders) < 2 or not strays or len(strays) >= len(files) - len(strays):
        return [], 0
    return strays, len(subfolders)


def _strays_text(root: Path, strays: list[Path], n_sub: int) -> str:
    shown = ", ".join(str(p.relative_to(root)) for p in strays[:3]) + (", ..." if len(strays) > 3 else "")
    return (f"{root}: {len(strays)} image(s) sit directly in the folder ({shown}) beside {n_sub} class "
            f"sub-folders, so the folder has no labels (move them into a class sub-folder, or "
            f"delete them, to use the sub-folders as classes)")


def _to_8bit_grey(im):
    """16-bit and float greyscale -> 8-bit 'L'. PIL's own convert clips these at 255, which
    turns a 16-bit PNG almost white, so scale instead."""
    from PIL import Image

    a = np.asarray(im, dtype=np.float64)
    hi = a.max() if a.size else 0
    if im.mode == "F" and hi <= 1.0:
        a = a * 255.0
    elif hi > 255:
        a = a / 257.0  # 65535 -> 255
    return Image.fromarray(np.rint(a).clip(0, 255).astype(np.uint8), "L")


BACKGROUND = (255, 255, 255)  # what transparent pixels show: white, as a browser draws them on a page
ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


def _flatten(im):
    """An image with transparency (an alpha band, or a palette or colour key marked transparent)
    composited on :data:`BACKGROUND`, as RGB; others as they are. Dropping the alpha instead
    would show whatever colour the hidden pixels happen to hold."""
    from PIL import Image

    if im.mode not in ALPHA_MODES and "transparency" not in im.info:
        return im
    rgba = im.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (*BACKGROUND, 255)), rgba).convert("RGB")


def _convert(im, mode: str):
    """``im`` in ``mode`` ('L' or 'RGB'): high-bit-depth grey scaled to 8 bits, transparency
    composited on white (see :func:`_flatten`)."""
    if im.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        im = _to_8bit_grey(im)
        return im if mode == "L" else im.convert(mode)
    im = _flatten(im)
    return im if im.mode == mode else im.convert(mode)


def decode(path: Path, size: int, mode: str | None) -> np.ndarray:
    """One image as uint8 (size, size) for 'L' or (size, size, 3) for 'RGB'.

    ``mode`` None keeps greyscale images grey and turns everything else into RGB. The shorter
    side is scaled to ``size`` (Lanczos) and the centre square kept.
    """
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        want = mode or ("L" if im.mode in GREY_MODES else "RGB")
        if im.format == "JPEG":
            im.draft(want, (size, size))  # decode big JPEGs at a reduced scale: much faster
        im.load()
        try:
            im = ImageOps.exif_transpose(im)  # phone photos are stored sideways plus a tag
        except Exception:  # a damaged EXIF block should not cost the image itself
            pass
        im = _convert(im, want)
        w, h = im.size
        s = min(w, h)
        if s == 0:
            raise ValueError("image has zero width or height")
        if s == size:
            if w != h:
                left, top = (w - s) // 2, (h - s) // 2
                im = im.crop((left, top, left + s, top + s))
        else:
            box = ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2)
            im = im.resize((size, size), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
        return np.array(im, dtype=np.uint8)


def _safe_decode(args):
    path, size, mode = args
    try:
        return decode(path, size, mode), None
    except Exception as e:  # corrupt files raise OSError, SyntaxError, ValueError, struct.error...
        return None, one_line(e, 120)


def load_folder(root: str | Path, size: int, channels: int | None, class_name: str | None,
                limit: int | None, progress: bool = True):
    """Decode the images under ``root``; returns (images uint8 (N,C,size,size), labels or None,
    class_names or None). ``--class`` and ``--limit`` are applied before decoding, so a small
    subset of a big folder is quick to load."""
    root = Path(root)
    files, others = list_images(root)
    if not files:
        exts = ", ".join(e.lstrip(".") for e in EXTENSIONS)
        extra = (f"; it holds {len(others)} other file(s), e.g. {others[0].relative_to(root)}"
                 if others else " (it is empty)")
        raise DataError(f"{root}: no image files ({exts}) found, searched recursively{extra}")
    labels, class_names = folder_labels(root, files)
    strays, n_sub = stray_images(root, files)
    if class_name is not None:
        if labels is None and strays:
            raise DataError(f"--class {class_name.strip()}: {_strays_text(root, strays, n_sub)}")
        lt = torch.tensor(labels) if labels is not None else None
        idx = class_index(class_name, class_names, lt, str(root))
        files = [f for f, lab in zip(files, labels) if lab == idx]
        labels = [idx] * len(files)

    elif strays:
        # a class folder with a few images in the wrong place: say so, since a run that needs
        # labels (--conditional) can only say that there are none
        print(f"note: {_strays_text(root, strays, n_sub)}", file=sys.stderr)
    mode = {1: "L", 3: "RGB", None: None}[channels]
    want = len(files) if limit is None else min(limit, len(files))
    arrays: list[np.ndarray] = []
    kept: list[int] = []
    skipped: list[tuple[Path, str]] = []
    from ..progress import progress_bar

    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool, progress_bar(
            total=want, unit="img", desc=f"reading {root.name or root}", file=sys.stderr,
            disable=not progress or want <= _PROGRESS_OVER, leave=False) as bar:
        start = 0
        while len(arrays) < want and start < len(files):
            # batches no bigger than what is still needed, so --limit 10 decodes ~10 files,
            # and corrupt ones are made up for by the next batch
            end = min(len(files), start + min(_BATCH, max(want - len(arrays), workers)))
            batch = [(f, size, mode) for f in files[start:end]]
            for i, (arr, err) in zip(range(start, end), pool.map(_safe_decode, batch)):
                if arr is None:
                    skipped.append((files[i], err))
                elif len(arrays) < want:
                    arrays.append(arr)
                    kept.append(i)
                    bar.update(1)
            start = end

    if skipped:
        f, why = skipped[0]
        print(f"skipped {len(skipped)} unreadable image(s) in {root}, e.g. {f.relative_to(root)}: {why}",
              file=sys.stderr)
    if not arrays:
        f, why = skipped[0]
        raise DataError(f"{root}: none of the {len(skipped)} image file(s) could be read, "
                        f"e.g. {f.relative_to(root)}: {why}")

    if channels is None and any(a.ndim == 3 for a in arrays):
        arrays = [np.repeat(a[:, :, None], 3, axis=2) if a.ndim == 2 else a for a in arrays]
    stacked = np.stack(arrays)
    del arrays
    # layout: decoded as (N, H, W) or (N, H, W, 3); the rest of ganforge wants (N, C, H, W)
    if stacked.ndim == 3:
        images = torch.from_numpy(stacked).unsqueeze(1).contiguous()
    else:
        images = torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous()
    out_labels = torch.tensor([labels[i] for i in kept], dtype=torch.int64) if labels is not None else None
    return images, out_labels, class_names
