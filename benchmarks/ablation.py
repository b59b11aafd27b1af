"""Which tricks help on Fashion-MNIST at a fixed CPU budget: train each variant for the same
wall-clock minutes from the same seed, then score it with `ganforge evaluate` (FD, KID,
precision, recall against the test split, with the Fashion-MNIST classifier features).

    python benchmarks/ablation.py                    # every variant, 10 minutes each
    python benchmarks/ablation.py --minutes 2 --only best-fmnist,tf-tutorial

Needs the evaluator: `ganforge evaluator train --data fashion-mnist` (once). Runs go to
benchmarks/ablation-runs/ (not tracked); results are appended to
benchmarks/results/ablation.jsonl and the table is written to benchmarks/results/ablation.md.
Use an otherwise idle machine: the budget is wall-clock time.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# Each round measures one version of the recipe; a row records its round, and the table shows
# the current round first, then the rows of earlier rounds with the recipe they were measured on.
ROUND = 2
ROUNDS = {
    1: "best-fmnist was dcgan + G_ema (10 kimg) + label smoothing 0.1, Adam 2e-4",
    2: "best-fmnist is dcgan + Adam 8e-4 + G_ema (10 kimg) + label smoothing 0.1 + reused fakes + channels-last",
}

# name -> (what it tests, extra CLI flags)
VARIANTS = {
    "tf-tutorial": ("the TensorFlow tutorial preset, as the seed has it", ["--preset", "tf-tutorial"]),
    "best-fmnist": ("the recipe: dcgan, Adam 8e-4, G_ema, label smoothing 0.1, reused fakes",
                    ["--preset", "best-fmnist"]),
    "best - reuse": ("the G phase on fresh noise (two G forwards per step)", ["--preset", "best-fmnist", "--no-reuse-fake"]),
    "best - lr": ("the DCGAN paper's Adam 2e-4 instead of 8e-4",
                  ["--preset", "best-fmnist", "--lr-g", "2e-4", "--lr-d", "2e-4"]),
    "best - ema": ("the recipe without G_ema", ["--preset", "best-fmnist", "--ema-kimg", "0"]),
    "best - smoothing": ("the recipe without label smoothing", ["--preset", "best-fmnist", "--label-smoothing", "0"]),
    "best + replay": ("plus experience replay (5,000 fakes, 25% of D's fakes)",
                      ["--preset", "best-fmnist", "--replay-size", "5000", "--replay-ratio", "0.25"]),
    "best + mbstd": ("plus a mini-batch standard-deviation layer in D", ["--preset", "best-fmnist", "--minibatch-stddev"]),
    "best + ttur": ("two time-scale learning rates (D 8e-4, G 2e-4)",
                    ["--preset", "best-fmnist", "--lr-d", "8e-4", "--lr-g", "2e-4"]),
    "best + width 32": ("G and D half as wide (32 base channels): twice the steps",
                        ["--preset", "best-fmnist", "--g-channels", "32", "--d-channels", "32"]),
    "dcgan": ("the plain dcgan preset (Adam 2e-4, no G_ema, no smoothing)", ["--preset", "dcgan"]),
}


def run(cmd: list[str]) -> str:
    print("$", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return out.stdout


def latest_rows(minutes: float, seed: int, n: int) -> dict[int, list[dict]]:
    """Per round, the newest result of every variant measured with these settings (several
    invocations may add to one table). Rows written before rounds existed are round 1."""
    latest: dict[int, dict[str, dict]] = {}
    for line in (RESULTS / "ablation.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["minutes"] == minutes and r["seed"] == seed and r["protocol"].get("n_fake") == n:
            latest.setdefault(r.get("round", 1), {})[r["variant"]] = r
    order = list(VARIANTS)
    return {k: sorted(v.values(), key=lambda r: order.index(r["variant"]) if r["variant"] in order else 99)
            for k, v in sorted(latest.items(), reverse=True)}


def table(rows: list[dict]) -> list[str]:
    lines = ["| variant | what | steps | FD | KID x1000 | precision | recall |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['what']} | {r['steps']} | {r['fd']:.3f} | {1000 * r['kid']:.2f} | "
                     f"{r['precision']:.3f} | {r['recall']:.3f} |")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-n", type=int, default=10_000, help="samples per evaluation")
    p.add_argument("--only", default="", help="comma-separated variant names")
    p.add_argument("--table-only", action="store_true", help="rewrite the table from results/ablation.jsonl")
    a = p.parse_args(argv)
    names = [v.strip() for v in a.only.split(",") if v.strip()] or list(VARIANTS)
    if a.table_only:
        names = []
    exe = str(Path(sys.executable).with_name("ganforge"))
    for name in names:
        what, flags = VARIANTS[name]
        out = HERE / "ablation-runs" / name.replace(" ", "")
        run([exe, "train", *flags, "--minutes", str(a.minutes), "--seed", str(a.seed), "--out", str(out),
             "--no-progress", "--sample-every", "1000", "--overwrite"])  # a re-run replaces its variant
        steps = json.loads((out / "log.jsonl").read_text().splitlines()[-1]).get("step")
        ev = json.loads(run([exe, "evaluate", str(out), "-n", str(a.n), "--json"]))
        m = ev["metrics"]
        row = {"variant": name, "round": ROUND, "what": what, "flags": " ".join(flags), "minutes": a.minutes, "seed": a.seed,
               "steps": steps, "fd": m["fd"], "kid": m["kid"], "precision": m["precision"], "recall": m["recall"],
               "protocol": ev["protocol"]}
        RESULTS.mkdir(exist_ok=True)
        with (RESULTS / "ablation.jsonl").open("a") as f:
            f.write(json.dumps({"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), **row}) + "\n")
        print(f"{name}: steps {steps}, FD {m['fd']:.3f}, precision {m['precision']:.3f}, recall {m['recall']:.3f}",
              flush=True)
    rounds = latest_rows(a.minutes, a.seed, a.n)
    first = next(iter(rounds.values()))[0]
    lines = [f"Fashion-MNIST, {a.minutes:g} CPU minutes per variant, seed {a.seed}, {a.n} samples vs the test split "
             f"(features: {first['protocol']['feature_network']} {first['protocol']['feature_hash']})"]
    for k, rows in rounds.items():
        lines += ["", f"Round {k}{' (current)' if k == ROUND else ''}: {ROUNDS.get(k, '')}", "", *table(rows)]
    (RESULTS / "ablation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
