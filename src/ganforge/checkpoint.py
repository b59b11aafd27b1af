"""Checkpoints: everything needed to continue a run exactly, written atomically, read safely.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts saved with
``torch.save`` and read with ``torch.load(weights_only=True)``: loading one never runs code.
"""
from __future__ import annotations

import pickle
import random
import shutil
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .device import resolve_device
from .errors import CheckpointError
from .images import DISK_FULL, atomic_write, make_folder
from .runs.layout import BEST_NAME, CHECKPOINT_NAME

FORMAT = "ganforge-checkpoint"
VERSION = 1


def rng_state() -> dict[str, Any]:
    """The state of every RNG a run draws from: torch (CPU and CUDA), numpy and Python's."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": {"version": py_state[0], "internal": torch.tensor(py_state[1], dtype=torch.int64),
                   "gauss_next": py_state[2]},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["internal"].tolist()), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically (temp file + rename), so a crash never leaves half a file.

    Temp files of earlier writes that were killed half-way (``.NAME.tmp-PID`` of a process that no
    longer runs) are removed first. A full disk (or a file-size limit) leaves the previous
    checkpoint intact and no temp file, and raises CheckpointError saying so.
    """
    path = Path(path)
    make_folder(path.parent, what="the run folder", error=CheckpointError)
    with atomic_write(path, failed=_save_failed) as tmp, open(tmp, "wb") as f:
        torch.save({"format": FORMAT, "version": VERSION, **state}, f)
    return path


def _save_failed(path: Path, e: BaseException) -> CheckpointError | None:
    """The one line a failed checkpoint write raises (None: raise the exception as it is)."""
    if _disk_full(e, path.parent):
        return CheckpointError(f"{path.parent}: the disk is full; the checkpoint was not saved and the previous "
                               f"{path.name} (if any) is intact (free some space, then resume)")
    if isinstance(e, OSError):
        return CheckpointError(f"{path}: cannot write the checkpoint ({e.strerror or e})")
    return None


def _disk_full(e: BaseException, folder: Path) -> bool:
    """Whether a failed write ran out of room. torch's C++ writer reports write errors as a
    RuntimeError without errno, so for those ask the file system how much room is left."""
    for err in (e, e.__cause__, e.__context__):
        if isinstance(err, OSError) and err.errno in DISK_FULL:
            return True
    if isinstance(e, RuntimeError) and "write" in str(e).lower():
        try:
            return shutil.disk_usage(folder).free < 1 << 20
        except OSError:
            return False
    return False


def resolve_checkpoint(path: str | Path) -> Path:
    """A run folder or a checkpoint file -> the checkpoint file; clear error if there is none."""
    p = Path(path)
    if p.is_dir():
        for name in (CHECKPOINT_NAME, BEST_NAME):
            if (p / name).is_file():
                return p / name
        raise CheckpointError(f"{p}: no {CHECKPOINT_NAME} in this folder (is it a ganforge run folder?)")
    if not p.exists():
        raise CheckpointError(f"{p}: no such run folder or checkpoint file")
    return p


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a ganforge checkpoint (file or run folder). Anything else raises CheckpointError.

    The file is always read onto the CPU (with ``weights_only=True``: plain data, never code);
    its tensors are then moved to ``map_location`` if that is not the CPU (an absent CUDA device
    raises ConfigError naming --device before the file is read).
    """
    device = resolve_device(str(map_location))
    p = resolve_checkpoint(path)
    ckpt = _read(p)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{p}: not a ganforge checkpoint (no '{FORMAT}' marker; give a run folder or "
                              f"the checkpoint.pt in one)")
    version = ckpt.get("version", 0)
    if not isinstance(version, int):
        raise CheckpointError(f"{p}: damaged checkpoint (its version is {version!r}, not a number)")
    if version > VERSION:
        raise CheckpointError(f"{p}: written by a newer ganforge (checkpoint version {version}); upgrade ganforge")
    return ckpt if device.type == "cpu" else _to_device(ckpt, device)


def _to_device(obj: Any, device: torch.device) -> Any:
    if torch.is_tensor(obj):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"  # pickle protocol 2 and later: torch.save's legacy (pre-zip) format


def _read(p: Path) -> Any:
    """torch.load(weights_only=True) of ``p`` onto the CPU, every failure in ganforge's own words."""
    not_ours = f"{p}: not a ganforge checkpoint"
    try:
        with open(p, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise CheckpointError(f"{p}: cannot read ({e.strerror or e})") from None
    if not head:
        raise CheckpointError(f"{p}: empty file, not a checkpoint (a save was cut short; use another checkpoint "
                              f"of the run, e.g. best.pt)")
    is_zip = head == _ZIP_MAGIC
    if not is_zip and not head.startswith(_PICKLE_MAGIC):
        raise CheckpointError(f"{not_ours} (not a file torch.save wrote; give a run folder or its checkpoint.pt)")
    damaged = (f"{p}: truncated or corrupt checkpoint (the file is damaged or was cut short; use another "
               f"checkpoint of the run, e.g. best.pt, or train again)")
    if is_zip:
        try:
            with zipfile.ZipFile(p) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise CheckpointError(damaged) from None
        if any(n.split("/", 2)[1:2] == ["code"] or n.endswith("/constants.pkl") for n in names):
            raise CheckpointError(f"{not_ours}: it is a TorchScript model, which ganforge never loads as a "
                                  f"checkpoint (load it with torch.jit.load)")
    try:
        with warnings.catch_warnings():  # a raw pickle's "protocol" warning: the error below says it better
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if _would_run_code(str(e)):
            raise CheckpointError(f"{p}: refused: it contains code, which ganforge never loads (not a ganforge "
                                  f"checkpoint, which holds only tensors, numbers and text)") from None
        raise CheckpointError(damaged if is_zip else f"{not_ours} (not a file torch.save wrote)") from None
    except (RuntimeError, OSError, EOFError, ValueError, KeyError, AttributeError, TypeError, IndexError) as e:
        if isinstance(e, OSError) and not isinstance(e, EOFError) and e.errno is not None:
            raise CheckpointError(f"{p}: cannot read ({e.strerror or e})") from None
        if not is_zip and "magic number" in str(e).lower():
            raise CheckpointError(f"{not_ours} (a pickle, but not one torch.save wrote)") from None
        raise CheckpointError(damaged) from None


def _would_run_code(message: str) -> bool:
    # torch's weights-only unpickler refuses a GLOBAL (a function or class to call) that is not
    # on its allow-list, or one whose module it blocks: loading it would run that code.
    return any(s in message for s in ("GLOBAL", "is blocked", "must be", "Unsupported class"))
