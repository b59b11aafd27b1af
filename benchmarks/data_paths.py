"""The two data paths of a prepared set: img/s in memory vs streamed, and peak memory on a big set.

    python benchmarks/data_paths.py                       # both figures (writes ~2.5 GB under --tmp)
    python benchmarks/data_paths.py --smoke               # seconds: tiny sets, nothing saved

1. Speed: the same synthetic 64-px RGB prepared set (``--n`` images) trained for ``--steps``
   steps with ``--data-load memory`` and with ``--data-load stream`` (DataLoader workers reading
   each batch from disk); img/s over the steps after the first log interval.
2. Memory: a ``--big``-image (default 200,000: 2.46 GB of pixels, over the 2 GiB in-memory
   threshold, so ``auto`` streams it) prepared set written straight into the format (random
   blobs, no PNGs), trained for ``--steps`` steps; the peak resident memory of the training
   process and of it plus its DataLoader workers (sampled every 50 ms from /proc).

Results are printed and appended to benchmarks/results/data_paths.jsonl.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "data_paths.jsonl"
SRC = ROOT.parent / "src"


def write_synthetic(out: Path, n: int, size: int = 64, channels: int = 3, chunk: int = 4096) -> Path:
    """A prepared set of ``n`` random-blob images written directly (no image files)."""
    sys.path.insert(0, str(SRC))
    from ganforge.data.prepared import FORMAT, HEADER_NAME, IMAGES_NAME, VERSION

    out.mkdir(parents=True, exist_ok=True)
    arr = np.lib.format.open_memmap(out / IMAGES_NAME, mode="w+", dtype=np.uint8, shape=(n, channels, size, size))
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    for start in range(0, n, chunk):
        k = min(chunk, n - start)
        c = rng.uniform(size * 0.3, size * 0.7, (k, 2, 1, 1))
        r = rng.uniform(size * 0.15, size * 0.3, (k, 1, 1))
        blob = ((yy - c[:, 0]) ** 2 + (xx - c[:, 1]) ** 2 < r * r).astype(np.float32)
        colour = rng.uniform(60, 255, (k, channels, 1, 1)).astype(np.float32)
        arr[start:start + k] = (blob[:, None] * colour).astype(np.uint8)
    arr.flush()
    del arr
    header = {"format": FORMAT, "version": VERSION, "n": n, "channels": channels, "size": size, "class_names": None,
              "source": "synthetic (benchmarks/data_paths.py)", "source_files": 0, "source_fingerprint": "",
              "skipped": []}
    (out / HEADER_NAME).write_text(json.dumps(header, indent=2) + "\n")
    return out


def train_cmd(data: Path, out: Path, load: str, steps: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "ganforge", "train", "--data", str(data), "--data-load", load,
            "--data-workers", str(workers), "--steps", str(steps), "--batch-size", "64", "--g-channels", "16",
            "--d-channels", "16", "--precision", "fp32", "--device", "cpu", "--log-every", "10",
            "--sample-every", "100000", "--checkpoint-every", "100000", "--no-progress", "--no-diagnose",
            "--out", str(out)]


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def run_measured(cmd: list[str], threads: int | None = None) -> dict:
    """Run ``cmd``; the peak RSS of the process and of it with its children, in MiB."""
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = {"main": 0, "tree": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            main = rss_kib(p.pid)
            tree = main + sum(rss_kib(c) for c in children(p.pid))
            peak["main"], peak["tree"] = max(peak["main"], main), max(peak["tree"], tree)
            time.sleep(0.05)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = p.communicate()
    done.set()
    t.join()
    if p.returncode != 0:
        raise SystemExit(f"training failed ({p.returncode}):\n{err}")
    return {"peak_rss_mib": round(peak["main"] / 1024, 1), "peak_rss_with_workers_mib": round(peak["tree"] / 1024, 1)}


def img_per_s(run: Path) -> float:
    """Images per second over the logged steps after the first interval (start-up excluded)."""
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "d_loss" in r]
    first, last = rows[0], rows[-1]
    return (last["step"] - first["step"]) * 64 / (last["time_s"] - first["time_s"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=20_000, help="images of the speed comparison's set")
    p.add_argument("--big", type=int, default=200_000, help="images of the memory measurement's set")
    p.add_argument("--steps", type=int, default=100, help="training steps per run")
    p.add_argument("--workers", type=int, default=2, help="--data-workers of the streamed runs")
    p.add_argument("--tmp", default=None, help="where the sets are written (default: the system's temp folder)")
    p.add_argument("--threads", type=int, default=None,
                   help="OMP_NUM_THREADS of the training process (default: torch's own choice); on a busy "
                        "machine 1 avoids threads spinning against other processes")
    p.add_argument("--only", choices=("speed", "memory"), help="measure one of the two")
    p.add_argument("--repeats", type=int, default=1, help="speed: alternate the two paths this many times")
    p.add_argument("--smoke", action="store_true", help="tiny sets and runs, nothing saved")
    a = p.parse_args(argv)
    if a.smoke:
        a.n, a.big, a.steps = 256, 1024, 20
    sys.path.insert(0, str(ROOT))
    from machine import machine_info  # noqa: E402  (benchmarks/machine.py)
    from runs import append_row  # noqa: E402  (benchmarks/runs.py)

    row: dict = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "n": a.n,
                 "big": 0 if a.only == "speed" else a.big, "only": a.only, "threads": a.threads,
                 "steps": a.steps, "workers": a.workers}
    with tempfile.TemporaryDirectory(dir=a.tmp) as tmp:
        tmp = Path(tmp)
        if a.only != "memory":
            small = write_synthetic(tmp / "small", a.n)
            for rep in range(a.repeats):
                for load in ("memory", "stream"):
                    run_measured(train_cmd(small, tmp / f"run-{load}-{rep}", load, a.steps, a.workers), a.threads)
                    speed = round(img_per_s(tmp / f"run-{load}-{rep}"), 1)
                    row.setdefault(f"img_per_s_{load}", []).append(speed)
                    print(f"{a.n} images 3x64x64, --data-load {load}: {speed} img/s")
        if a.only != "speed":
            big = write_synthetic(tmp / "big", a.big)
            gb = a.big * 3 * 64 * 64 / 1e9
            row["big_set_gb"] = round(gb, 2)
            mem = run_measured(train_cmd(big, tmp / "run-big", "auto" if not a.smoke else "stream", a.steps,
                                         a.workers), a.threads)
            row.update(mem)
            print(f"{a.big} images ({gb:.2f} GB of pixels), streamed: peak RSS {mem['peak_rss_mib']} MiB "
                  f"(with {a.workers} workers: {mem['peak_rss_with_workers_mib']} MiB)")
    row["machine"] = machine_info("cpu")
    if not a.smoke:
        append_row(RESULTS, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
