"""A data set's fingerprint: how a run recognises its data after it has moved.

A run stores the fingerprint of the images it trained on; ``--resume`` and the tools that read
the training data (``evaluate``, ``neighbours``) accept the data at a new place when the
fingerprint matches, and say what differs when it does not.
"""
from __future__ import annotations

import hashlib
from typing import Any

from ..errors import DataError

FINGERPRINT_IMAGES = 64


def data_fingerprint(images) -> dict[str, Any]:
    """A small record that tells data sets apart: the image count, the image shape, and the
    sha256 of up to 64 images spread evenly over the set (uint8 N,C,H,W, as training sees them)."""
    n = int(images.shape[0])
    k = min(FINGERPRINT_IMAGES, n)
    idx = sorted({round(i * (n - 1) / max(k - 1, 1)) for i in range(k)})
    sample = images[idx].contiguous().cpu().numpy()
    return {"n": n, "shape": [int(s) for s in images.shape[1:]], "sampled": len(idx),
            "sha256": hashlib.sha256(sample.tobytes()).hexdigest()}


def check_same_data(stored: dict[str, Any] | None, current: dict[str, Any], source: str) -> None:
    """Refuse to resume on other data than the run started on (a DataError saying what differs)."""
    if not stored or stored == current:
        return
    shape = lambda fp: "x".join(str(s) for s in fp["shape"])  # noqa: E731
    if stored["n"] != current["n"] or stored["shape"] != current["shape"]:
        what = (f"the run was trained on {stored['n']} images of {shape(stored)}, "
                f"this is {current['n']} images of {shape(current)}")
    else:
        what = (f"same count ({current['n']}) and shape ({shape(current)}), but other images: the hash of "
                f"{current['sampled']} images spread over the set differs")
    raise DataError(f"--data {source}: not the data this run was trained on ({what}; give the run's own "
                    f"data with --data, or start a new run)")


def relocated(cfg, source: str | None, stored: dict[str, Any] | None, flag: str = "--data"):
    """The run's data config with its images at ``source`` (the data moved), or unchanged when
    ``source`` is None. Returns ``(cfg, check)``: call ``check(images)`` once the images are loaded;
    it refuses other data than the run's (by :func:`check_same_data`, when the run stored a
    fingerprint). Only a folder or array file can move; a named dataset moves with ``--data-dir``."""
    import dataclasses

    from . import absolute_data_paths, is_data_path

    if source is None:
        return cfg, lambda images: None
    if not is_data_path(cfg.source):
        raise DataError(f"{flag} {source}: this run trained on the named dataset {cfg.source!r}; "
                        f"say where its files are with --data-dir instead")
    cfg = absolute_data_paths(dataclasses.replace(cfg, source=source))
    return cfg, lambda images: check_same_data(stored, data_fingerprint(images), source)
