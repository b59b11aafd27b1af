"""What the run-and-score benchmarks share: calling ``ganforge`` in a child process, scoring a run
with ``ganforge evaluate``, reading its log, and appending a result row."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def ganforge(args: list, threads: int | None = None, cpu: int | None = None) -> subprocess.CompletedProcess:
    """``python -m ganforge.cli ARGS``, optionally with OMP_NUM_THREADS=threads and pinned to one CPU core."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    return subprocess.run([sys.executable, "-m", "ganforge.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, preexec_fn=pin)


def train_or_exit(what: str, args: list, threads: int | None = None, cpu: int | None = None) -> None:
    tr = ganforge(args, threads, cpu)
    if tr.returncode != 0:
        sys.exit(f"{what}: training failed:\n{tr.stderr.strip()[-3000:]}")


def evaluate_or_exit(what: str, run: Path, n: int, threads: int | None = None, cpu: int | None = None) -> dict:
    """``ganforge evaluate RUN -n N --json``: its result (metrics and protocol)."""
    ev = ganforge(["evaluate", run, "-n", n, "--json", "--no-progress"], threads, cpu)
    if ev.returncode != 0:
        sys.exit(f"{what}: evaluation failed: {ev.stderr.strip()[-3000:]}")
    return json.loads(ev.stdout)


def read_log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]


def metrics_line(m: dict) -> str:
    return f"FD {m['fd']:.3f}  KID {m['kid']:.4f}  precision {m['precision']:.3f}  recall {m['recall']:.3f}"


def append_row(path: Path, row: dict) -> None:
    path.parent.mkdir(exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")
