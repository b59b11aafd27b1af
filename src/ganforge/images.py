"""Image grids and files: PNG grids, animated GIFs, folders of PNGs, .npy arrays.

Also the way every ganforge file is written: :func:`atomic_write` (a temp file beside the target,
renamed into place; removed on any failure), :func:`remove_stale_temps` (temp files of killed
processes) and :func:`refuse_existing` (``--out`` never replaces a file without ``--overwrite``).
"""
from __future__ import annotations

import contextlib
import errno
import glob
import math
import os
import struct
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image

from .errors import GanforgeError

# Outputs beyond these are refused before anything is drawn: no sane use reaches them, and
# attempting them would take minutes and gigabytes to produce a file nobody can open.
MAX_GRID_IMAGES = 10_000  # images in one PNG grid or figure (a 100 x 100 grid)
MAX_GRID_PIXELS = 250_000_000  # pixels of one PNG grid (about 15,800 x 15,800)
MAX_GIF_FRAMES = 5_000  # frames of one GIF (over 8 minutes at 100 ms a frame)
MAX_GIF_FRAME_MS = 655_350  # a GIF frame's delay is at most 65,535 hundredths of a second

# errno values that mean "no room left": a full disk, a file-size limit (RLIMIT_FSIZE), a quota
DISK_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
_TMP = ".tmp-"


# --------------------------------------------------------------------------- writing files


def temp_path(path: str | Path) -> Path:
    """The temp file a write to ``path`` goes through: ``.NAME.tmp-PID`` in the same folder."""
    path = Path(path)
    return path.with_name(f".{path.name}{_TMP}{os.getpid()}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's; anything else: do not guess
        return True
    return True


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Delete the ``.NAME.tmp-PID`` files beside ``path`` whose process no longer runs: what a
    write killed half-way (SIGKILL, power loss) left behind. Returns the files removed."""
    path = Path(path)
    prefix = f".{path.name}{_TMP}"
    removed = []
    try:
        candidates = list(path.parent.glob(glob.escape(prefix) + "*"))
    except OSError:
        return removed
    for p in candidates:
        pid = p.name[len(prefix):]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


def write_error(path: Path, e: BaseException) -> GanforgeError | None:
    """A failed write as one line naming the file (or, for a full disk, its folder); None for an
    exception that is not the file system's (it is raised as it is)."""
    if not isinstance(e, OSError):
        return None
    if e.errno in DISK_FULL:
        return GanforgeError(f"{path.parent}: the disk is full; {path.name} was not written (free some space, "
                             f"or write somewhere else)")
    if e.errno == errno.EISDIR or path.is_dir():
        return GanforgeError(f"{path}: is a folder (give a file name)")
    return GanforgeError(f"{path}: cannot write ({e.strerror or e})")


def make_folder(folder: str | Path, *, what: str = "this folder", label: str | None = None, hint: str = "",
                error: type[GanforgeError] = GanforgeError) -> Path:
    """Create ``folder`` and its parents (nothing to do when it exists). An OSError becomes one
    line, ``LABEL: cannot create WHAT (why; HINT)``, as ``error``; LABEL is the folder unless given."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        why = f"{e.strerror or e}" + (f"; {hint}" if hint else "")
        raise error(f"{label or folder}: cannot create {what} ({why})") from None
    return folder


@contextlib.contextmanager
def atomic_write(path: str | Path,
                 failed: Callable[[Path, BaseException], GanforgeError | None] = write_error) -> Iterator[Path]:
    """Yield the temp path to write ``path`` through; on success it is renamed onto ``path`` (a
    reader never sees half a file), on any failure it is removed. Stale temp files of killed
    processes are removed first. ``failed(path, exception)`` turns a failure into the one-line
    error to raise (default :func:`write_error`: an OSError names the file); None re-raises it."""
    path = Path(path)
    if path.is_dir():
        raise GanforgeError(f"{path}: is a folder (give a file name)")
    make_folder(path.parent)
    remove_stale_temps(path)
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        error = failed(path, e)
        if error is not None:
            raise error from None
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def refuse_existing(paths: Sequence[str | Path], overwrite: bool, flag: str = "--out") -> None:
    """Refuse to replace a file the user has (``--overwrite`` allows it): one line naming it."""
    if overwrite:
        return
    for p in paths:
        p = Path(p)
        if p.is_dir():
            raise GanforgeError(f"{flag} {p}: is a folder (give a file name)")
        if p.exists():
            raise GanforgeError(f"{flag} {p}: already exists (add --overwrite to replace it, or choose "
                                f"another name)")


def check_grid(n: int, size: int | None = None, flag: str = "-n") -> None:
    """Refuse, before any image is made, a PNG grid of more than :data:`MAX_GRID_IMAGES` images
    or (for ``size`` x ``size`` images) :data:`MAX_GRID_PIXELS` pixels; the message names ``flag``."""
    cols = max(1, math.ceil(math.sqrt(max(n, 1))))
    side = None if size is None else 2 + cols * (size + 2)
    if n > MAX_GRID_IMAGES or (side is not None and side * side > MAX_GRID_PIXELS):
        raise GanforgeError(f"{flag} {n}: too many images for a PNG grid (at most {MAX_GRID_IMAGES:,}"
                            + ("" if size is None else f" and {MAX_GRID_PIXELS // 1_000_000} megapixels")
                            + f"; write a .npy file or a folder of PNGs instead, or lower {flag})")


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2, pad_value: int = 0) -> np.ndarray:
    """Tile uint8 images (N, C, H, W) into one (H', W', C) uint8 array, ``nrow`` images per row.

    nrow: images per row; default is the smallest square that holds them all.
    """
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"make_grid expects uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    ncol_rows = math.ceil(n / nrow)
    grid = np.full((padding + ncol_rows * (h + padding), padding + nrow * (w + padding), c), pad_value, np.uint8)
    arr = images.permute(0, 2, 3, 1).cpu().numpy()  # NHWC for PIL
    for i in range(n):
        r, k = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + k * (w + padding)
        grid[y:y + h, x:x + w] = arr[i]
    return grid


def to_pil(grid: np.ndarray, min_side: int = 0) -> Image.Image:
    """HWC uint8 array -> PIL image; upscaled by an integer factor (nearest) to at least ``min_side`` px."""
    img = Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid)
    if min_side and min(img.size) < min_side:
        f = math.ceil(min_side / min(img.size))
        img = img.resize((img.width * f, img.height * f), Image.NEAREST)
    return img


def save_image(img: Image.Image, path: str | Path, **kw) -> Path:
    """Write a PIL image atomically (temp file + rename): a reader never sees half a file.
    The format follows the suffix unless ``format=`` says otherwise; ``kw`` goes to PIL."""
    path = Path(path)
    fmt = kw.pop("format", None) or path.suffix[1:].upper().replace("JPG", "JPEG") or "PNG"
    with atomic_write(path) as tmp:
        img.save(tmp, format=fmt, **kw)
    return path


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, min_side: int = 256) -> Path:
    """Save uint8 images (N, C, H, W) as one PNG grid, upscaled so small images stay visible.

    More than :data:`MAX_GRID_IMAGES` images are refused (callers that know the count in advance
    call :func:`check_grid` before making the images)."""
    n = int(images.shape[0])
    if n > MAX_GRID_IMAGES:
        raise GanforgeError(f"{path}: {n:,} images are too many for a PNG grid (at most {MAX_GRID_IMAGES:,}; "
                            f"write a .npy file or a folder of PNGs instead)")
    if nrow is not None:
        if not 1 <= nrow <= MAX_GRID_IMAGES:
            raise GanforgeError(f"--nrow {nrow}: images per grid row must be from 1 to {MAX_GRID_IMAGES:,}")
        nrow = min(nrow, max(n, 1))  # a row wider than the images are many is only padding
    return save_image(to_pil(make_grid(images, nrow), min_side), path)


def gif_delay_ms(ms: float) -> int:
    """The frame time a GIF stores for ``ms``: its delays are whole hundredths of a second, so
    ``ms`` rounded to the nearest 10 (105 -> 110)."""
    return 10 * math.floor(ms / 10 + 0.5)


def save_gif(frames: Sequence[Path | Image.Image], path: str | Path, ms_per_frame: int = 120,
             hold_last_ms: int = 1500, durations: Sequence[int] | None = None) -> Path:
    """Write frames (PNG paths or PIL images) as a looping animated GIF; the last frame is held
    longer, unless ``durations`` gives each frame's milliseconds. Frame times are rounded to
    10 ms (:func:`gif_delay_ms`); one over :data:`MAX_GIF_FRAME_MS` is refused."""
    if len(frames) > MAX_GIF_FRAMES:
        raise GanforgeError(f"{path}: {len(frames):,} frames is too many for a GIF (at most {MAX_GIF_FRAMES:,}; "
                            f"use fewer steps or seeds)")
    if durations is None:
        durations = [ms_per_frame] * len(frames)
        durations[-1] = max(ms_per_frame, hold_last_ms)
    delays = [gif_delay_ms(d) for d in durations]
    if any(not 0 <= d <= MAX_GIF_FRAME_MS for d in delays):
        raise GanforgeError(f"{path}: a GIF frame lasts 0 to {MAX_GIF_FRAME_MS:,} ms (got {max(durations):,} ms)")
    imgs = [f if isinstance(f, Image.Image) else Image.open(f).convert("RGB") for f in frames]
    if not imgs:
        raise ValueError("save_gif needs at least one frame")
    try:
        return save_image(imgs[0], path, format="GIF", save_all=True, append_images=imgs[1:], duration=delays,
                          loop=0)
    except (OverflowError, struct.error):  # identical frames are merged into one, their times added up
        raise GanforgeError(f"{path}: identical frames in a row would last over {MAX_GIF_FRAME_MS:,} ms, more than "
                            f"a GIF frame can (use a shorter frame time)") from None


def save_folder(images: torch.Tensor, folder: str | Path, prefix: str = "") -> list[Path]:
    """Save each uint8 image (N, C, H, W) as its own PNG: ``folder/{prefix}000000.png``..."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise GanforgeError(f"{folder}: is a file, not a folder (give a folder name, or a .png/.npy file)")
    make_folder(folder)
    arr = images.permute(0, 2, 3, 1).cpu().numpy()
    paths = []
    for i, a in enumerate(arr):
        p = folder / f"{prefix}{i:06d}.png"
        try:
            Image.fromarray(a[..., 0] if a.shape[2] == 1 else a).save(p, format="PNG")
        except OSError as e:  # no half-written PNG left behind
            with contextlib.suppress(OSError):
                p.unlink()
            raise write_error(p, e) from None
        paths.append(p)
    return paths


def save_npy(images: torch.Tensor, path: str | Path) -> Path:
    """Save uint8 images as an .npy array (N, H, W, C), the layout most tools read."""
    path = Path(path)
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        np.save(f, images.permute(0, 2, 3, 1).cpu().numpy())
    return path
