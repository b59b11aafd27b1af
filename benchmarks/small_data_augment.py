"""Augmentation on a small data set: the same recipe trained on the first --limit Fashion-MNIST
images without augmentation, with DiffAugment and with ADA, at equal steps and several seeds,
each scored by ``ganforge evaluate`` (FD and the rest against the full test split).

    python benchmarks/small_data_augment.py --limit 200 --steps 2000 --seeds 0,1 --threads 1 --cpu 0
    python benchmarks/small_data_augment.py --limit 1000 --steps 1500 --seeds 0,1

The regime augmentation is for is a D that memorises the real set, so that its feedback to G
degrades. ADA measures it (r_t, the mean sign of D's outputs on reals, against --ada-target) and
each row records the augmentation probability ADA reached (``augment_p``, ``augment_p_max``): with
1,000 images and 1,500 steps of 64 it stayed at 0, while 200 images for 2,000 steps (640 epochs)
push it up. Equal steps, so the comparison does not depend on the machine's load; each row also
records the wall time. Rows are appended to benchmarks/results/small_data_augment.jsonl as they
are measured.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "small_data_augment.jsonl"

VARIANTS = {
    "none": [],
    "diffaugment": ["--augment", "translation,cutout"],
    "ada": ["--ada-target", "0.6"],
    "translation": ["--augment", "translation"],  # DiffAugment without cutout (not in the default run)
}
DEFAULT_VARIANTS = "none,diffaugment,ada"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="best")
    p.add_argument("--limit", type=int, default=1000, help="training images (the first ones)")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--variants", default=DEFAULT_VARIANTS, help=f"comma-separated, of {', '.join(VARIANTS)}")
    p.add_argument("-n", type=int, default=5000, help="generated images per evaluation")
    p.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for training and evaluation")
    p.add_argument("--cpu", type=int, default=None, help="pin training and evaluation to this CPU core")
    p.add_argument("--keep", help="keep the run folders here (default: a temp folder)")
    p.add_argument("--no-save", action="store_true")
    a = p.parse_args()
    unknown = [v for v in a.variants.split(",") if v not in VARIANTS]
    if unknown:
        p.error(f"--variants: unknown {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine_info  # noqa: E402
    from runs import append_row, evaluate_or_exit, metrics_line, read_log, train_or_exit  # noqa: E402

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(a.keep or tmp)
        for seed in map(int, a.seeds.split(",")):
            for name in a.variants.split(","):
                out = root / f"{name}-seed{seed}"
                train_or_exit(name, ["train", "--preset", a.preset, "--limit", a.limit, "--steps", a.steps, "--epochs", "none",
                              "--seed", seed, "--eval-minutes", 0, "--out", out, "--overwrite", "--no-progress",
                              *VARIANTS[name]], a.threads, a.cpu)
                res = evaluate_or_exit(name, out, a.n, a.threads, a.cpu)
                log = read_log(out)
                last = log[-1] if log else {}
                row = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "preset": a.preset,
                       "variant": name, "flags": VARIANTS[name], "limit": a.limit, "steps": a.steps, "seed": seed,
                       "train_time_s": last.get("time_s"), "augment_p": last.get("augment_p"),
                       "augment_p_max": max((r["augment_p"] for r in log if "augment_p" in r), default=None),
                       "threads": a.threads, "cpu_pinned": a.cpu,
                       "metrics": res["metrics"], "protocol": res["protocol"], "machine": machine_info()}
                print(f"seed {seed} {name:<12} {metrics_line(res['metrics'])}", flush=True)
                if not a.no_save:
                    append_row(RESULTS, row)


if __name__ == "__main__":
    main()
