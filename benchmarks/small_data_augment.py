"""Augmentation on a small data set: the same recipe trained on the first --limit Fashion-MNIST
images without augmentation, with DiffAugment and with ADA, at equal steps and several seeds,
each scored by ``ganforge evaluate`` (FD and the rest against the full test split).

    python benchmarks/small_data_augment.py --limit 1000 --steps 1500 --seeds 0,1

With a thousand images, 1,500 steps of 64 show each image ~100 times: D memorises the real set
and its feedback to G degrades - the regime augmentation is for (a few thousand images, like the
colour emoji set). Equal steps, so the comparison does not depend on the machine's load; each
row also records the wall time. Rows are appended to benchmarks/results/small_data_augment.jsonl
as they are measured.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "small_data_augment.jsonl"

VARIANTS = {
    "none": [],
    "diffaugment": ["--augment", "translation,cutout"],
    "ada": ["--ada-target", "0.6"],
}


def ganforge(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganforge.cli", *map(str, args)], capture_output=True, text=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="best")
    p.add_argument("--limit", type=int, default=1000, help="training images (the first ones)")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("-n", type=int, default=5000, help="generated images per evaluation")
    p.add_argument("--keep", help="keep the run folders here (default: a temp folder)")
    p.add_argument("--no-save", action="store_true")
    a = p.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine_info  # noqa: E402

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(a.keep or tmp)
        for seed in map(int, a.seeds.split(",")):
            for name in a.variants.split(","):
                out = root / f"{name}-seed{seed}"
                tr = ganforge("train", "--preset", a.preset, "--limit", a.limit, "--steps", a.steps, "--epochs", "none",
                              "--seed", seed, "--eval-minutes", 0, "--out", out, "--overwrite", "--no-progress",
                              *VARIANTS[name])
                if tr.returncode != 0:
                    sys.exit(f"{name}: training failed:\n{tr.stderr.strip()[-3000:]}")
                ev = ganforge("evaluate", out, "-n", a.n, "--json", "--no-progress")
                if ev.returncode != 0:
                    sys.exit(f"{name}: evaluation failed: {ev.stderr.strip()[-3000:]}")
                res = json.loads(ev.stdout)
                log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if line.strip()]
                last = log[-1] if log else {}
                row = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "preset": a.preset,
                       "variant": name, "flags": VARIANTS[name], "limit": a.limit, "steps": a.steps, "seed": seed,
                       "train_time_s": last.get("time_s"), "augment_p": last.get("augment_p"),
                       "metrics": res["metrics"], "protocol": res["protocol"], "machine": machine_info()}
                m = res["metrics"]
                print(f"seed {seed} {name:<12} FD {m['fd']:.3f}  KID {m['kid']:.4f}  precision {m['precision']:.3f}"
                      f"  recall {m['recall']:.3f}", flush=True)
                if not a.no_save:
                    RESULTS.parent.mkdir(exist_ok=True)
                    with RESULTS.open("a") as f:
                        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
