"""The evaluators that ship inside the package, so ``ganforge evaluate`` works right after install
and every user's metrics for that data come from the same network.

Each is the file ``ganforge evaluator train --data NAME`` writes (same format and hash), kept as
package data in ``metrics/weights/``. A file of the user's own in the cache
(``<cache>/evaluators/NAME.pt``) is used instead where there is one; every protocol names the
weights hash, so results from different networks are never mixed up silently.
"""
from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"

# dataset -> the weights hash of the packaged file (checked on load)
SHIPPED: dict[str, str] = {"fashion-mnist": "a1f00eb03d79"}


def shipped_file(dataset: str) -> Path | None:
    """The packaged evaluator file for ``dataset``, or None where none ships."""
    path = WEIGHTS_DIR / f"{dataset}.pt"
    return path if dataset in SHIPPED and path.is_file() else None
