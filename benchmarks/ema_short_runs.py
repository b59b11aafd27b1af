"""Is a short run's G_ema at least as good as its raw G? FD of both, for runs of a few steps.

    python benchmarks/ema_short_runs.py --steps 1200,100 --seeds 0,1,2

For each length and seed, trains ``--preset`` (default ``best``: G_ema with the half-life
ramp) and, for comparison, ``best-fmnist`` (the same recipe with the full 10 kimg half-life
from the first step), each for exactly that many steps, then scores G_ema and the raw G of every
run with ``ganforge evaluate`` (10,000 samples vs the Fashion-MNIST test split, the shipped
evaluator). Equal steps, not equal time, so a busy machine changes the run time, not the result.
Rows are printed and appended to benchmarks/results/ema_short_runs.jsonl.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "ema_short_runs.jsonl"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", default="1200,100", help="run lengths in steps, comma-separated")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--presets", default="best,best-fmnist")
    p.add_argument("-n", type=int, default=10_000, help="samples per evaluation")
    p.add_argument("--no-save", action="store_true")
    a = p.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine_info
    from runs import append_row
    from ganforge import api
    from ganforge.config import set_field
    from ganforge.metrics import evaluate_run
    from ganforge.presets import get_preset

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for steps in (int(s) for s in a.steps.split(",")):
            for seed in (int(s) for s in a.seeds.split(",")):
                for preset in a.presets.split(","):
                    cfg = get_preset(preset)
                    set_field(cfg, "train.steps", steps)
                    set_field(cfg, "train.epochs", None)
                    set_field(cfg, "train.seed", seed)
                    set_field(cfg, "train.eval_minutes", 0)
                    run = Path(tmp) / f"{preset}-{steps}-{seed}"
                    api.train(cfg, run, progress=False, log=lambda *_: None)
                    fd = {}
                    for ema in (True, False):
                        r = evaluate_run(run, n=a.n, floor=False, progress=False, log=lambda *_: None, ema=ema,
                                         metrics=("fd",))
                        fd["G_ema" if ema else "G"] = round(r.metrics["fd"], 4)
                    row = {"preset": preset, "steps": steps, "seed": seed, "fd_g_ema": fd["G_ema"], "fd_g": fd["G"],
                           "ema_rampup": cfg.tricks.ema_rampup, "ema_kimg": cfg.tricks.ema_kimg}
                    rows.append(row)
                    print(f"{preset:<12} {steps:>6} steps  seed {seed}:  FD G_ema {fd['G_ema']:.3f}   "
                          f"raw G {fd['G']:.3f}", flush=True)
    if not a.no_save:
        stamp = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine_info()}
        for row in rows:
            append_row(RESULTS, {**stamp, **row})


if __name__ == "__main__":
    main()
