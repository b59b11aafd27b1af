"""FD against training time, preset beside preset, on Fashion-MNIST (or --data).

Each preset trains alone (one after the other, never at the same time), in segments: it trains
to the first mark of --at, is scored by ``ganforge evaluate``, is resumed (``--resume``, exact)
to the next mark, is scored again, and so on. A row per (preset, mark) is appended to
benchmarks/results/quality_over_time.jsonl as soon as it is measured, so a stopped benchmark
keeps what it finished.

    python benchmarks/quality_over_time.py --presets progan,best --at 10,30
    python benchmarks/quality_over_time.py --presets stylegan2,best --at 30,60 --cpu 1
    python benchmarks/quality_over_time.py --presets best --at 60 --keep runs --continue-from 30  # add a mark

Training time is the training process's CPU time by default (``--clock cpu``: one thread, so a
CPU minute is a minute of one core, and a busy machine slows the run without shortening its
budget); ``--clock wall`` uses elapsed time. Evaluation between segments is not counted. Training-time evaluation is off (--eval-minutes 0) so that every minute
of the budget trains. --threads/--cpu pin the training to a thread count and CPU core, so that a
two-core machine can run a benchmark on one core while other work uses the other: all presets
of a run get the same treatment, and each row records it. progan's 32x32 images are scored at
the evaluator's 28x28 (each row's protocol says how).
"""
from __future__ import annotations

import argparse
import re
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "quality_over_time.jsonl"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", default="progan,best", help="comma-separated presets, trained in this order")
    p.add_argument("--at", default="10,30", help="comma-separated cumulative training minutes to score at")
    p.add_argument("--data", default=None, help="data source (default: each preset's own)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-n", type=int, default=10_000, help="generated images per evaluation")
    p.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="what the minutes count (train --clock)")
    p.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS for training and evaluation")
    p.add_argument("--cpu", type=int, default=None, help="pin training and evaluation to this CPU core")
    p.add_argument("--keep", help="keep the run folders under this folder (default: a temp folder)")
    p.add_argument("--flags", default="", help="more train flags for every preset, e.g. '--size 32' (each row "
                                               "records them; the run folders are named with them)")
    p.add_argument("--no-save", action="store_true", help="print only")
    p.add_argument("--continue-from", type=float, default=0.0, metavar="MIN",
                   help="the run folder under --keep already holds this run trained by this benchmark to MIN "
                        "minutes: resume it from there (marks up to MIN are skipped), e.g. to add a 60-minute mark")
    # A lone flag as the value (--flags --stage-reset-adam) reads to argparse as an option of its own:
    # take the word after --flags as its value whatever it starts with.
    argv = sys.argv[1:]
    argv = [f"--flags={argv[i + 1]}" if w == "--flags" and i + 1 < len(argv) else w
            for i, w in enumerate(argv) if not (i > 0 and argv[i - 1] == "--flags")]
    a = p.parse_args(argv)
    if a.continue_from and not a.keep:
        p.error("--continue-from needs --keep (the folder that holds the runs to continue)")
    marks = sorted(float(m) for m in a.at.split(","))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine_info  # noqa: E402  (benchmarks/machine.py)
    from runs import append_row, evaluate_or_exit, metrics_line, read_log, train_or_exit  # noqa: E402

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(a.keep or tmp)
        flags = shlex.split(a.flags)
        tag = re.sub(r"[^A-Za-z0-9.]+", "-", a.flags).strip("-")
        for preset in a.presets.split(","):
            out = root / f"{preset}{'-' + tag if tag else ''}-seed{a.seed}"
            done = a.continue_from
            if done and not (out / "checkpoint.pt").is_file():
                sys.exit(f"quality_over_time: --continue-from {done:g}: no run to continue at {out}")
            for mark in (m for m in marks if m > done):
                common = ["--minutes", mark - done, "--clock", a.clock, "--epochs", "none", "--no-progress"]
                if done == 0:
                    args = ["train", "--preset", preset, "--seed", a.seed, "--out", out, "--overwrite",
                            "--eval-minutes", 0, *(["--data", a.data] if a.data else []), *flags, *common]
                else:
                    args = ["train", "--resume", out, *common]
                t0 = time.monotonic()
                train_or_exit(preset, args, a.threads, a.cpu)
                wall = time.monotonic() - t0
                done = mark
                result = evaluate_or_exit(preset, out, a.n, a.threads, a.cpu)
                log = read_log(out)
                steps = max((r["step"] for r in log if "step" in r), default=0)
                kimg = max((r["kimg"] for r in log if "kimg" in r), default=None)
                row = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "preset": preset,
                       "minutes": mark, "seed": a.seed, "flags": a.flags, "steps": steps, "kimg": kimg,
                       "segment_wall_s": round(wall, 1), "clock": a.clock, "threads": a.threads, "cpu_pinned": a.cpu,
                       "stage": next((r["stage"] for r in reversed(log) if "stage" in r), None),
                       "metrics": result["metrics"], "protocol": result["protocol"], "machine": machine_info()}
                print(f"{preset + (' ' + a.flags if a.flags else ''):<12} {mark:g} min, {steps} steps: {metrics_line(result['metrics'])}", flush=True)
                if not a.no_save:
                    append_row(RESULTS, row)


if __name__ == "__main__":
    main()
