"""The run folder's rules: a new run starts in a new or empty folder (or one the user said to
overwrite), a resume names a run that is there, and a resumed run sees the data it started on.

What a run writes, by name, is :data:`RUN_FILES`; ``--overwrite`` deletes exactly those.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import GanforgeError
from ..images import make_folder
from .layout import (CHECKPOINT_NAME, OVERWRITE_REMOVES, RUN_DIRS, RUN_FILES, SAMPLES_DIR,  # noqa: F401
                     TENSORBOARD_DIR)  # (OVERWRITE_REMOVES: for the API)


class RunFolderError(GanforgeError):
    """A run folder cannot be used as asked: it holds another run, is a file, or cannot be written."""


def _run_entries(run_dir: Path) -> list[Path]:
    """The ganforge files and folders present in ``run_dir``."""
    return [run_dir / n for n in (*RUN_FILES, *RUN_DIRS) if (run_dir / n).exists()]


def _some(names: list[str], k: int = 3) -> str:
    return ", ".join(names[:k]) + (", ..." if len(names) > k else "")


def check_out_dir(out: str | Path, *, overwrite: bool = False, flag: str = "--out") -> Path:
    """Check that a new run may write into ``out``; nothing is created or deleted.

    A folder that does not exist yet, or is empty, is fine. One with files in it is refused
    unless ``overwrite`` (see :func:`clear_run`). A file, or a place that cannot be written,
    is refused. Raises RunFolderError naming ``flag``.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{flag} {out}: is a file, not a folder (give a new folder name)")
    if out.is_dir():
        entries = sorted(p.name for p in out.iterdir())
        if entries and not overwrite:
            held = [p.name for p in _run_entries(out)]
            if held:
                raise RunFolderError(
                    f"{flag} {out}: this folder already holds a run ({_some(held)}) and a new run never "
                    f"writes into one (continue it with --resume {out}, or start afresh there with "
                    f"--overwrite, which deletes that run's files)")
            raise RunFolderError(
                f"{flag} {out}: this folder is not empty ({_some(entries)}) and holds no ganforge run "
                f"(give a new or empty folder, or add --overwrite to train into it beside those files)")
        if not os.access(out, os.W_OK | os.X_OK):
            raise RunFolderError(f"{flag} {out}: cannot write in this folder (permission denied; "
                                 f"give a folder you can write to)")
        return out
    # Not there yet: the nearest existing ancestor must be a folder we can write in.
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise RunFolderError(f"{flag} {out}: {parent} is a file, so no folder can be made there "
                             f"(give another place)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunFolderError(f"{flag} {out}: cannot create the folder: {parent} is not writable "
                             f"(give a folder you can write to)")
    return out


def make_run_dir(out: Path, flag: str = "--out") -> Path:
    """Create ``out`` (and its parents); an OSError becomes a one-line RunFolderError."""
    return make_folder(out, label=f"{flag} {out}", what="the folder", hint="give a folder you can write to",
                       error=RunFolderError)


def clear_run(run_dir: str | Path) -> list[str]:
    """Delete the ganforge files of the run in ``run_dir`` (``--overwrite``): :data:`RUN_FILES`,
    ``samples/step-*.png`` and ``tensorboard/``, and the temp files of writes to them. Other
    files are left alone. Returns the names removed."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    removed = []
    for name in RUN_FILES:
        for p in [run_dir / name, *run_dir.glob(f".{name}.tmp*")]:
            if p.is_file() or p.is_symlink():
                p.unlink()
                removed.append(p.name)
    samples = run_dir / SAMPLES_DIR
    if samples.is_dir():
        for p in samples.glob("step-*.png"):
            p.unlink()
            removed.append(f"{SAMPLES_DIR}/{p.name}")
        if not any(samples.iterdir()):
            samples.rmdir()
    tb = run_dir / TENSORBOARD_DIR
    if tb.is_dir():
        shutil.rmtree(tb)
        removed.append(f"{TENSORBOARD_DIR}/")
    return removed


def resume_dir(path: str | Path, flag: str = "--resume") -> Path:
    """The run folder to resume from ``path``: the folder itself, or the folder of its checkpoint.pt."""
    p = Path(path)
    if p.is_file():
        if p.name == CHECKPOINT_NAME:
            return p.parent
        raise RunFolderError(f"{flag} {p}: give the run folder (a resume continues from the folder's "
                             f"{CHECKPOINT_NAME} and writes there)")
    if not p.exists():
        raise RunFolderError(f"{flag} {p}: no such run folder")
    if not (p / CHECKPOINT_NAME).is_file():
        raise RunFolderError(f"{flag} {p}: no {CHECKPOINT_NAME} in this folder (is it a ganforge run folder?)")
    return p
