"""Training speed of the progan preset at each stage of its growth: img/s of full training steps
(D and G updates, gradient penalty, G_ema) at every size, stable and mid-fade, with each stage's
batch size from the preset's table. The CPU defaults of --fade-kimg/--stage-kimg come from it.

    python benchmarks/progan_stages.py                      # the progan preset on Fashion-MNIST
    python benchmarks/progan_stages.py --preset progan-64 --seconds 20

Prints one line per stage and how long a run with the preset's stage lengths takes to reach the
final size; appends the figures to benchmarks/results/progan_stages.jsonl.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "progan_stages.jsonl"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="progan")
    p.add_argument("--seconds", type=float, default=15.0, help="timed seconds per stage and phase")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE", help="override a field")
    p.add_argument("--no-save", action="store_true", help="print only")
    a = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch

    from ganforge.config import set_field, validate
    from ganforge.data import load_data
    from ganforge.models import ARCHS
    from ganforge.presets import get_preset
    from ganforge.train.loop import seed_everything
    from ganforge.train.builder import build_trainer
    from machine import machine_info  # noqa: E402  (benchmarks/machine.py)
    from runs import append_row  # noqa: E402  (benchmarks/runs.py)

    cfg = get_preset(a.preset)
    for item in a.set:
        key, _, value = item.partition("=")
        set_field(cfg, key, value)
    validate(cfg)
    data = load_data(cfg.data, default_size=ARCHS[cfg.model.arch].native_size, progress=False)
    images = data.images[:4096]
    seed_everything(0)
    tr = build_trainer(cfg, images.shape[1], images.shape[2])
    sched, g = tr.family.schedule, torch.Generator().manual_seed(0)
    rows = []
    for stage, size in enumerate(sched.sizes):
        phases = [("stable", sched.fade_start(stage) + sched.fade if stage else 0)]
        if stage:
            phases.insert(0, ("fade", sched.fade_start(stage) + sched.fade // 2))
        for phase, at in phases:
            tr.G.images_seen.fill_(at)
            tr.family.apply()
            b = tr.family.batch_size()

            def step():
                tr.train_step(images[torch.randint(0, images.shape[0], (b,), generator=g)])

            step(), step()  # warm-up
            n, t0 = 0, time.perf_counter()
            while n == 0 or time.perf_counter() - t0 < a.seconds:
                step()
                n += 1
            dt = time.perf_counter() - t0
            row = {"stage": f"{size}x{size}", "phase": phase, "batch": b, "steps": n,
                   "img_per_s": round(n * b / dt, 1), "s_per_step": round(dt / n, 4)}
            rows.append(row)
            print(f"{row['stage']:>7} {phase:<6} batch {b:3d}: {row['img_per_s']:7.1f} img/s "
                  f"({row['s_per_step'] * 1000:.0f} ms/step, {n} steps)", flush=True)
    # how long the preset's stage lengths take at these speeds
    speed = {(r["stage"], r["phase"]): r["img_per_s"] for r in rows}
    total = 0.0
    for stage, size in enumerate(sched.sizes):
        key = f"{size}x{size}"
        if stage:
            total += sched.fade / speed[(key, "fade")]
        if stage < len(sched.sizes) - 1:
            total += sched.stable / speed[(key, "stable")]
    last = sched.sizes[-1]
    print(f"--fade-kimg {sched.fade / 1000:g} --stage-kimg {sched.stable / 1000:g}: the {last}x{last} block is fully "
          f"faded in after ~{total / 60:.1f} min of training steps (grids and checkpoints not counted)")
    record = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine_info(),
              "preset": a.preset, "set": a.set, "fade_kimg": sched.fade / 1000, "stage_kimg": sched.stable / 1000,
              "minutes_to_final": round(total / 60, 2), "rows": rows}
    if not a.no_save:
        append_row(RESULTS, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
