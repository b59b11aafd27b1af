"""Evaluation speed: N generated Fashion-MNIST images against cached reference statistics.

    python benchmarks/eval_speed.py                          # a fresh random-init dcgan G, 10,000 samples
    python benchmarks/eval_speed.py --run runs/00000-dcgan-fashion-mnist
    python benchmarks/eval_speed.py -n 2000 --repeats 3

What ``ganforge evaluate RUN`` does after its first run: sample N images, extract their
features, compute every metric (FD, KID, precision/recall, classifier score, class coverage,
memorisation against the 60,000 train images). Untimed first: the feature network is loaded
and the reference statistics of the test and train splits (plus their k-NN radii and the
real-vs-real floor) are computed or read from the cache, as they are once per machine.

Needs the fashion-mnist evaluator: ``ganforge evaluator train --data fashion-mnist``.
Prints a table and appends a JSON line with machine info to benchmarks/results/eval_speed.jsonl.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from ganforge.config import DataConfig
from ganforge.generator import generate, load_generator, load_run_config
from ganforge.metrics import ALL_METRICS, build_evaluator, compute_metrics
from ganforge.models import build_models
from ganforge.presets import get_preset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402  (benchmarks/machine.py)

RESULTS = Path(__file__).resolve().parent / "results" / "eval_speed.jsonl"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", help="a run folder or checkpoint (default: a fresh random-init dcgan G)")
    p.add_argument("-n", type=int, default=10_000, help="generated images")
    p.add_argument("--repeats", type=int, default=1, help="timed repetitions (the table shows the median)")
    p.add_argument("--batch-size", type=int, default=500, help="images per generator forward pass")
    p.add_argument("--no-save", action="store_true", help="do not append to benchmarks/results/")
    a = p.parse_args(argv)

    if a.run:
        G = load_generator(a.run)
        data = load_run_config(a.run).data
        label = f"{G.checkpoint_path} ({'G_ema' if G.is_ema else 'G'}, step {G.step})"
    else:
        cfg = get_preset("dcgan")
        torch.manual_seed(0)
        G, _ = build_models(cfg.model, 1, 28)
        G.eval()
        data, label = DataConfig(source="fashion-mnist"), "fresh random-init dcgan G (preset dcgan, 28x28 grey)"

    print(f"setting up (untimed): evaluator, reference statistics of {data.source}", file=sys.stderr)
    t = time.perf_counter()
    ev = build_evaluator(data, 1, n=a.n, split="test", metrics=ALL_METRICS, floor=True,
                         progress=True, log=lambda m: print(m, file=sys.stderr))
    ev.reference.pr_reference(min(a.n, ev.reference.rows))
    if ev.train_reference is not None:
        ev.train_reference.nn_radii()
    ev.floor(a.n)
    setup_s = time.perf_counter() - t

    machine = machine_info()  # load average before the timed part: other processes skew CPU timings
    runs, values = [], {}
    for _ in range(a.repeats):
        row: dict[str, float] = {}
        t0 = time.perf_counter()
        images = generate(G, a.n, seed=0, batch_size=a.batch_size)
        row["sampling"] = time.perf_counter() - t0
        t = time.perf_counter()
        feats, probs = ev.extractor(images)
        row["features"] = time.perf_counter() - t
        for group in ALL_METRICS:
            t = time.perf_counter()
            metrics = compute_metrics(feats, probs, ev.reference, train_reference=ev.train_reference,
                                      metrics=(group,))
            row[group] = time.perf_counter() - t
            values.update(metrics)
        row["total"] = time.perf_counter() - t0
        runs.append(row)
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}

    print(f"{label}: {a.n} samples vs {ev.reference.label()}, features {ev.extractor.name} "
          f"{ev.extractor.hash}, {torch.get_num_threads()} threads; setup (untimed) {setup_s:.1f} s")
    print(f"  {'stage':<22}{'seconds':>9}")
    for k, v in median.items():
        print(f"  {k:<22}{v:>9.2f}")
    if not a.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(json.dumps({"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                "machine": machine, "source": label, "n": a.n, "repeats": a.repeats,
                                "seconds": {k: round(v, 3) for k, v in median.items()},
                                "metrics": {k: round(float(v), 6) for k, v in values.items()}}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
