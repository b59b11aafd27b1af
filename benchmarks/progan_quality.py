"""ProGAN against the best DCGAN recipe at the same wall-clock budget on Fashion-MNIST: trains
``progan`` and ``best-fmnist`` for --minutes M each, one after the other (never at the same time:
they would share the CPU), then ``ganforge evaluate``s both and appends one row per run to
benchmarks/results/progan_quality.jsonl.

    python benchmarks/progan_quality.py --minutes 10
    python benchmarks/progan_quality.py --minutes 30 --seed 1 --keep runs/quality

Use an idle machine. ``ganforge evaluate`` needs the Fashion-MNIST evaluator network (it prints
the command that trains it when it is missing). progan's images are 32x32 and are compared at
the evaluator's 28x28 (the protocol in each row says how); best-fmnist's are 28x28.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "progan_quality.jsonl"
PRESETS = ("progan", "best-fmnist")


def ganforge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganforge.cli", *map(str, args)], capture_output=True, text=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="training minutes per preset")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-n", type=int, default=10_000, help="generated images per evaluation")
    p.add_argument("--keep", help="keep the run folders under this folder (default: a temp folder)")
    p.add_argument("--presets", default=",".join(PRESETS), help="comma-separated presets, trained in order")
    p.add_argument("--no-save", action="store_true", help="print only")
    a = p.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine_info  # noqa: E402  (benchmarks/machine.py)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(a.keep or tmp)
        rows = []
        for preset in a.presets.split(","):
            out = root / f"{preset}-{a.minutes:g}min-seed{a.seed}"
            t0 = time.monotonic()
            tr = ganforge("train", "--preset", preset, "--minutes", a.minutes, "--epochs", "none", "--seed", a.seed,
                          "--out", out, "--overwrite", "--no-progress")
            wall = time.monotonic() - t0
            if tr.returncode != 0:
                sys.exit(f"{preset}: training failed:\n{tr.stderr.strip()}")
            ev = ganforge("evaluate", out, "-n", a.n, "--json", "--no-progress")
            if ev.returncode != 0:
                sys.exit(f"{preset}: evaluation failed: {ev.stderr.strip()}")
            result = json.loads(ev.stdout)
            log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
            steps = max((r["step"] for r in log if "step" in r), default=0)
            row = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "preset": preset,
                   "minutes": a.minutes, "seed": a.seed, "steps": steps, "train_wall_s": round(wall, 1),
                   "final_stage": next((r["stage"] for r in reversed(log) if "stage" in r), None),
                   "metrics": result["metrics"], "protocol": result["protocol"], "machine": machine_info()}
            rows.append(row)
            m = result["metrics"]
            print(f"{preset:<12} {a.minutes:g} min, {steps} steps: FD {m['fd']:.3f}  KID {m['kid']:.4f}  "
                  f"precision {m['precision']:.3f}  recall {m['recall']:.3f}", flush=True)
        if not a.no_save:
            RESULTS.parent.mkdir(exist_ok=True)
            with RESULTS.open("a") as f:
                for row in rows:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
