"""Prepared sets: an image folder decoded once into one memory-mappable uint8 array on disk.

``ganforge prepare-data FOLDER --size 64 --out DIR`` writes

* ``DIR/images-<id>.npy``: uint8 (N, C, H, W), a plain .npy file that ``numpy.load(...,
  mmap_mode="r")`` opens without reading it, so any number of processes can share it;
* ``DIR/labels-<id>.npy``: int64 (N,), when the folder has one sub-folder per class;
* ``DIR/prepared.json``: the header - format and version, the names of those two files, shape,
  class names, the source folder and its fingerprint (file names, sizes and times), and the
  files skipped as unreadable.

The header is the set: the arrays are written first under names no header names yet, and the
header is swapped in by one rename when they are complete. Preparing again over a set
(``--overwrite``) therefore leaves the old set whole until the new one is, whatever stops it
part-way (an error, Ctrl-C, a full disk); the old arrays are deleted only after the swap. Sets
prepared before the files had ids are read as before (``images.npy``, ``labels.npy``).

Training with ``--data DIR`` reads small sets (up to :data:`IN_MEMORY_BYTES` of pixels) into
memory once; bigger ones stay on disk and DataLoader workers read each batch
(:class:`BatchReader`), so memory stays flat for a million images.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError

HEADER_NAME = "prepared.json"
IMAGES_NAME = "images.npy"  # the arrays' names in sets prepared before they had ids
LABELS_NAME = "labels.npy"
FORMAT = "ganforge-prepared"
VERSION = 1
IN_MEMORY_BYTES = 2 * 1024**3  # --data-load auto: read a prepared set into memory up to this many bytes of pixels
_BATCH = 256


def is_prepared(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by ``ganforge prepare-data``."""
    p = Path(path).expanduser()
    return p.is_dir() and (p / HEADER_NAME).is_file()


def read_header(path: str | Path) -> dict[str, Any]:
    p = Path(path).expanduser()
    try:
        header = json.loads((p / HEADER_NAME).read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{p / HEADER_NAME}: unreadable ({e}); prepare the set again") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DataError(f"{p / HEADER_NAME}: not a ganforge prepared-set header")
    if header.get("version") != VERSION:
        raise DataError(f"{p}: prepared with format version {header.get('version')}, this ganforge reads "
                        f"{VERSION}; prepare the set again")
    return header


def source_fingerprint(root: Path, files: list[Path]) -> str:
    """sha256 over every image file's relative path, size and modification time: whether the
    folder changed since it was prepared, without reading the images."""
    h = hashlib.sha256()
    for f in files:
        st = f.stat() if f.exists() else f.lstat()  # (a link to nothing: the link itself)
        h.update(f"{f.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _channels_of(files: list[Path]) -> int:
    """1 when every image is greyscale (read from the headers only), else 3."""
    from PIL import Image

    from .folder import GREY_MODES

    for f in files:
        try:
            with Image.open(f) as im:
                if im.mode not in GREY_MODES:
                    return 3
        except Exception:  # unreadable: skipped (and listed) when decoding
            continue
    return 1


def _npy_header(shape: tuple[int, ...]) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return buf.getvalue()


# What a prepared set's folder may hold: --overwrite replaces only such folders.
OWN_FILES = (HEADER_NAME, HEADER_NAME + ".tmp", IMAGES_NAME, LABELS_NAME)
OWN_PATTERNS = ("images-*.npy", "labels-*.npy", "*.npy.part")


def _check_out(out: Path, overwrite: bool) -> None:
    """``out`` may receive a set: it does not exist, is empty, or (with ``overwrite``) holds a
    prepared set and nothing else."""
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is a file, not a folder (give a folder for the prepared set)")
    if not out.is_dir():
        return
    entries = [e.name for e in out.iterdir()]
    if not entries:
        return
    if not overwrite:
        raise DataError(f"--out {out}: already holds files (add --overwrite to replace a prepared set there)")
    own = set(OWN_FILES) | {f.name for pattern in OWN_PATTERNS for f in out.glob(pattern)}
    foreign = sorted(set(entries) - own)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise DataError(f"--out {out}: holds files that are not a prepared set ({shown}); --overwrite replaces "
                        f"a prepared set only (choose another folder)")


def _decode_into(path: Path, root: Path, files: list[Path], size: int, c: int, progress: bool):
    """Decode ``files`` into the .npy file ``path``; returns (kept indices, skipped entries)."""
    from tqdm import tqdm

    from .folder import _safe_decode

    mode = "L" if c == 1 else "RGB"
    header_bytes = _npy_header((len(files), c, size, size))
    item = c * size * size
    kept: list[int] = []
    skipped: list[dict[str, str]] = []
    workers = max(1, min(8, os.cpu_count() or 1))
    with open(path, "wb") as fh, ThreadPoolExecutor(workers) as pool, tqdm(
            total=len(files), unit="img", desc=f"preparing {root.name or root}", file=sys.stderr,
            disable=not progress) as bar:
        fh.write(header_bytes)
        for start in range(0, len(files), _BATCH):
            batch = [(f, size, mode) for f in files[start:start + _BATCH]]
            for i, (arr, err) in zip(range(start, start + len(batch)), pool.map(_safe_decode, batch)):
                bar.update(1)
                if arr is None:
                    skipped.append({"file": files[i].relative_to(root).as_posix(), "why": err})
                    continue
                # layout: decoded (H, W) or (H, W, 3) -> stored (C, H, W)
                chw = arr[None] if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(2, 0, 1))
                fh.write(chw.tobytes())
                kept.append(i)
        if not kept:
            raise DataError(f"{root}: none of the {len(files)} image file(s) could be read, e.g. "
                            f"{skipped[0]['file']}: {skipped[0]['why']}")
        # the array has fewer rows when files were skipped: rewrite the shape in the header
        # (numpy pads it, so the header keeps its length) and cut the unused tail
        final = _npy_header((len(kept), c, size, size))
        if len(final) != len(header_bytes):
            raise DataError(f"{path}: could not finish the array header; prepare again")  # not reachable with numpy's padding
        fh.seek(0)
        fh.write(final)
        fh.truncate(len(final) + len(kept) * item)
    return kept, skipped


def _remove_unreferenced(out: Path, header: dict[str, Any]) -> None:
    """Delete the arrays of earlier sets and of interrupted preparations in ``out``."""
    keep = {header["images"], header.get("labels")}
    for f in [out / IMAGES_NAME, out / LABELS_NAME, *(f for pt in OWN_PATTERNS for f in out.glob(pt))]:
        if f.name not in keep:
            f.unlink(missing_ok=True)


def prepare_folder(folder: str | Path, size: int, out: str | Path, channels: int | None = None,
                   progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Decode every image under ``folder`` once to ``size`` x ``size`` (shorter side scaled, centre
    kept; ``channels`` 1 or 3, None: grey when all images are grey) into a prepared set in
    ``out``. Unreadable files (links to nothing among them) are skipped and listed in the
    header. An existing set in ``out`` (``overwrite``) stays whole until the new one replaces it
    in one rename. Returns the header."""
    from .folder import folder_labels, list_images

    root, out = Path(folder).expanduser(), Path(out).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: not a folder of images")
    _check_out(out, overwrite)
    files, _ = list_images(root)
    if not files:
        raise DataError(f"{root}: no image files found, searched recursively")
    labels, class_names = folder_labels(root, files)
    c = channels or _channels_of(files)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"--out {out}: cannot be created ({e.strerror or e})") from None
    token = uuid.uuid4().hex[:12]
    images_name, labels_name = f"images-{token}.npy", f"labels-{token}.npy"
    part = out / (images_name + ".part")
    written: list[Path] = [part]
    try:
        kept, skipped = _decode_into(part, root, files, size, c, progress)
        os.replace(part, out / images_name)
        written.append(out / images_name)
        if labels is not None:
            written.append(out / labels_name)
            np.save(out / labels_name, np.asarray([labels[i] for i in kept], dtype=np.int64))
        header = {"format": FORMAT, "version": VERSION, "images": images_name,
                  "labels": labels_name if labels is not None else None, "n": len(kept), "channels": c,
                  "size": size, "class_names": class_names, "source": str(root.resolve()),
                  "source_files": len(files), "source_fingerprint": source_fingerprint(root, files),
                  "skipped": skipped}
        tmp = out / (HEADER_NAME + ".tmp")
        written.append(tmp)
        tmp.write_text(json.dumps(header, indent=2) + "\n")
        os.replace(tmp, out / HEADER_NAME)  # the set is the new one from here on
    except BaseException:
        for f in written:  # the old set, if any, is still whole: only this attempt's files go
            f.unlink(missing_ok=True)
        raise
    _remove_unreferenced(out, header)
    if skipped:
        print(f"skipped {len(skipped)} unreadable image(s), listed in {out / HEADER_NAME}, e.g. "
              f"{skipped[0]['file']}: {skipped[0]['why']}", file=sys.stderr)
    return header


def images_file(path: str | Path, header: dict[str, Any] | None = None) -> Path:
    """The images array of the prepared set in ``path`` (named by its header)."""
    p = Path(path).expanduser()
    header = header if header is not None else read_header(p)
    return p / str(header.get("images") or IMAGES_NAME)


def labels_file(path: str | Path, header: dict[str, Any] | None = None) -> Path | None:
    """The labels array of the prepared set in ``path``, or None when it has none."""
    p = Path(path).expanduser()
    header = header if header is not None else read_header(p)
    if "images" in header:  # a set with named files says whether it has labels
        return p / header["labels"] if header.get("labels") else None
    return p / LABELS_NAME if (p / LABELS_NAME).exists() else None


def open_images(path: str | Path, header: dict[str, Any] | None = None) -> np.ndarray:
    """The prepared set's images as a read-only memory map, uint8 (N, C, H, W)."""
    p = images_file(path, header)
    try:
        arr = np.load(p, mmap_mode="c")  # copy-on-write: torch can wrap it; the file never changes
    except (OSError, ValueError) as e:
        raise DataError(f"{p}: unreadable ({e}); prepare the set again") from None
    if arr.dtype != np.uint8 or arr.ndim != 4:
        raise DataError(f"{p}: expected uint8 (N, C, H, W), found {arr.dtype} {arr.shape}; prepare the set again")
    return arr


def load_prepared(path: str | Path, size: int | None, channels: int | None, class_name: str | None,
                  limit: int | None, load: str = "auto"):
    """(images, labels, class_names, streamed): the set's images as a tensor - in memory, or a
    memory map when it is to be streamed (``load``: memory, stream or auto by
    :data:`IN_MEMORY_BYTES`). Its size and channels are fixed when prepared."""
    p = Path(path).expanduser()
    header = read_header(p)
    n, c, s = int(header["n"]), int(header["channels"]), int(header["size"])
    # (size and channels may come from --size/--channels or from the preset: the messages say both ways out)
    if size is not None and size != s:
        raise DataError(f"--data {p}: prepared at {s}x{s}, but this run trains at {size}x{size} (give --size {s} "
                        f"to train at the set's size, or prepare the folder again with --size {size})")
    if channels is not None and channels != c:
        raise DataError(f"--data {p}: prepared with {c} channel(s), but this run trains on {channels} (give "
                        f"--channels {c}, or prepare the folder again with --channels {channels})")
    if class_name is not None:
        raise DataError(f"--class {class_name}: a prepared set is used whole; prepare the class's sub-folder "
                        f"on its own instead")
    arr = open_images(p, header)
    if arr.shape != (n, c, s, s):
        raise DataError(f"{images_file(p, header)}: holds {arr.shape}, the header says {(n, c, s, s)}; prepare again")
    if limit is not None:
        arr = arr[:limit]
    labels = None
    lf = labels_file(p, header)
    if lf is not None:
        try:
            labels = torch.from_numpy(np.load(lf)[:arr.shape[0]].astype(np.int64))
        except (OSError, ValueError) as e:
            raise DataError(f"{lf}: unreadable ({e}); prepare the set again") from None
    streamed = load == "stream" or (load == "auto" and arr.nbytes > IN_MEMORY_BYTES)
    images = torch.from_numpy(arr if streamed else np.array(arr))
    return images, labels, header.get("class_names"), streamed


class BatchReader(torch.utils.data.Dataset):
    """Reads whole batches of a prepared set: ``reader[indices]`` -> (uint8 (B, C, H, W), labels
    or None). Reads with ``os.pread`` rather than through a memory map, so the pages read stay
    in the kernel's cache and never count towards the process's memory."""

    def __init__(self, path: str | Path, labelled: bool):
        self.path = Path(path).expanduser()
        header = read_header(self.path)
        self.file = images_file(self.path, header)
        arr = open_images(self.path, header)
        self.shape = tuple(arr.shape[1:])
        self.item = int(np.prod(self.shape))
        self.offset = arr.offset
        self.n = arr.shape[0]
        del arr
        lf = labels_file(self.path, header)
        self.labels = torch.from_numpy(np.load(lf).astype(np.int64)) if labelled and lf is not None else None
        self._fd: int | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return self.n

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # each worker process opens its own
            self._fd, self._pid = os.open(self.file, os.O_RDONLY), os.getpid()
        return self._fd

    def __getitem__(self, indices) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = torch.as_tensor(indices, dtype=torch.int64).cpu()
        out = np.empty((len(idx), *self.shape), dtype=np.uint8)
        fd = self._file()
        for row, i in enumerate(idx.tolist()):
            buf = os.pread(fd, self.item, self.offset + i * self.item)
            if len(buf) != self.item:
                raise DataError(f"{self.file}: image {i} is cut short; prepare the set again")
            out[row] = np.frombuffer(buf, dtype=np.uint8).reshape(self.shape)
        return torch.from_numpy(out), None if self.labels is None else self.labels[idx]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_fd"], state["_pid"] = None, None
        return state
