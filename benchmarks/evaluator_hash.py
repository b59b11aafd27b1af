"""Reproduce the shipped Fashion-MNIST evaluator: train it afresh and compare its weights hash.

    python benchmarks/evaluator_hash.py            # ~6 minutes on an idle 2-core CPU

Trains ``ganforge evaluator train --data fashion-mnist`` (seed 0, the default recipe and
precision) into a temporary cache and compares the weights hash with the one ganforge ships
(``ganforge.metrics.shipped.SHIPPED``). The same hash comes out on the same kind of CPU and
torch build; another CPU's kernels (or fp32 where the shipped one used bf16) round differently
and train other weights, which is why the evaluator ships instead of being trained by each user.
Prints the result and appends it, with the machine, to benchmarks/results/evaluator_hash.jsonl.
"""
from __future__ import annotations

import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "evaluator_hash.jsonl"


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine_info
    from runs import append_row

    with tempfile.TemporaryDirectory() as cache:
        os.environ["GANFORGE_CACHE"] = cache
        from ganforge.metrics.classifier_training import train_evaluator
        from ganforge.metrics.networks import load_evaluator_file
        from ganforge.metrics.shipped import SHIPPED, shipped_file

        shipped = load_evaluator_file(shipped_file("fashion-mnist"), "fashion-mnist").meta
        meta = train_evaluator("fashion-mnist", progress=sys.stderr.isatty())
    row = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine_info(),
           "hash": meta["hash"], "shipped_hash": SHIPPED["fashion-mnist"],
           "reproduced": meta["hash"] == SHIPPED["fashion-mnist"], "precision": meta["precision"],
           "shipped_precision": shipped.get("precision"), "shipped_cpu_note": shipped.get("cpu"),
           "test_accuracy": meta["test_accuracy"], "shipped_test_accuracy": shipped.get("test_accuracy"),
           "train_seconds": meta["train_seconds"]}
    print(f"trained hash {row['hash']} ({row['precision']}, test accuracy {row['test_accuracy']:.2%}, "
          f"{row['train_seconds']:.0f} s); shipped {row['shipped_hash']} ({row['shipped_precision']}, "
          f"{row['shipped_test_accuracy']:.2%}): {'REPRODUCED' if row['reproduced'] else 'DIFFERENT'}")
    append_row(RESULTS, row)
    return 0 if row["reproduced"] else 1


if __name__ == "__main__":
    sys.exit(main())
