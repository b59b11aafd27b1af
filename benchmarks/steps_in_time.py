"""How many training steps a preset reaches in a fixed wall-clock budget, through the whole loop.

    python benchmarks/steps_in_time.py --preset best-fmnist --minutes 10
    python benchmarks/steps_in_time.py --minutes 2 --label before --src /tmp/old/src   # another checkout

Everything ``ganforge train --minutes M`` does counts: data on the device, the step, logging,
fixed-noise grids, checkpoints, diagnostics. This is the figure a refactor of the trainer must not
lower. ``--src`` runs a different checkout's ``src`` folder instead of the installed ganforge, so
two versions can be measured the same way in one session (alternate them; the machine must be idle).
Results are printed and appended to benchmarks/results/steps_in_time.jsonl.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "steps_in_time.jsonl"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="best-fmnist")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--label", default="", help="a name for this row (e.g. the commit measured)")
    p.add_argument("--src", help="put this checkout's src folder first on sys.path")
    p.add_argument("--no-save", action="store_true", help="print only")
    a = p.parse_args()
    if a.src:
        sys.path.insert(0, str(Path(a.src).resolve()))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import ganforge
    from ganforge import api
    from ganforge.config import set_field
    from ganforge.presets import get_preset
    from machine import machine_info  # noqa: E402  (benchmarks/machine.py)
    from runs import append_row  # noqa: E402  (benchmarks/runs.py)

    cfg = get_preset(a.preset)
    set_field(cfg, "data.source", a.data)
    set_field(cfg, "train.minutes", a.minutes)
    set_field(cfg, "train.epochs", None)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.monotonic()
        res = api.train(cfg, Path(tmp) / "run", progress=False, log=lambda *_: None)
        wall = time.monotonic() - t
    row = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "label": a.label,
           "ganforge": str(Path(ganforge.__file__).parent), "preset": a.preset, "data": a.data,
           "minutes": a.minutes, "steps": res.steps, "steps_per_min": round(res.steps / a.minutes, 1),
           "wall_s": round(wall, 1), "machine": machine_info("cpu")}
    print(f"{a.label or a.preset}: {res.steps} steps in {a.minutes:g} min ({row['steps_per_min']} steps/min; "
          f"wall {wall:.0f} s incl. data and the final grid/GIF/plot) - {row['ganforge']}")
    if not a.no_save:
        append_row(RESULTS, row)


if __name__ == "__main__":
    main()
