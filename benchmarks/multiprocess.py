"""Training speed of one and two CPU processes on this machine, and the scaling efficiency.

    python benchmarks/multiprocess.py                      # dcgan on Fashion-MNIST, 60 steps each
    python benchmarks/multiprocess.py --steps 10 --no-save # a quick look

Three runs of the same model and global batch (``--batch``), each started as torchrun starts its
processes (RANK, WORLD_SIZE, MASTER_ADDR/PORT; gloo):

* 1 process with all T threads (``torch.set_num_threads(T)``, T = the machine's cores);
* 1 process with T/2 threads;
* 2 processes with T/2 threads each, per-process batch ``--batch`` / 2.

img/s is measured on rank 0's log over the steps after the first log interval (start-up,
data loading and the first steps excluded). Scaling efficiency = img/s of 2 processes / (2 x
img/s of 1 process with T/2 threads): 1.0 means the second process adds a whole process's worth;
the speed-up over 1 process with all threads is printed beside it. Results are appended to
benchmarks/results/multiprocess.jsonl with the machine's load average (a busy machine lowers
every figure, and the two-process one most).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "multiprocess.jsonl"
SRC = ROOT.parent / "src"

WORKER = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
from ganforge.cli import main
sys.exit(main(sys.argv[2:]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(world: int, threads: int, args: argparse.Namespace, out: Path) -> float:
    port = free_port()
    base = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                OMP_NUM_THREADS=str(threads))
    cmd = ["train", "--preset", args.preset, "--data", args.data, "--batch-size", str(args.batch // world),
           "--steps", str(args.steps), "--log-every", str(args.log_every), "--sample-every", "100000",
           "--checkpoint-every", "100000", "--device", "cpu", "--no-progress", "--no-diagnose", "--out", str(out)]
    procs = []
    for rank in range(world):
        env = dict(base, RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port))
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, str(threads), *cmd], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"training failed ({p.returncode}):\n{err}")
    rows = [r for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if "d_loss" in r]
    first, last = rows[0], rows[-1]
    return (last["step"] - first["step"]) * args.batch / (last["time_s"] - first["time_s"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="dcgan")
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--batch", type=int, default=64, help="global batch (each of 2 processes: half)")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="T: threads of the whole machine")
    p.add_argument("--no-save", action="store_true", help="print only")
    a = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from machine import machine_info  # noqa: E402  (benchmarks/machine.py)
    from runs import append_row  # noqa: E402  (benchmarks/runs.py)

    half = max(1, a.threads // 2)
    load_before = machine_info("cpu").get("loadavg_1min")
    with tempfile.TemporaryDirectory() as tmp:
        one_all = run(1, a.threads, a, Path(tmp) / "one-all")
        one_half = run(1, half, a, Path(tmp) / "one-half")
        two_half = run(2, half, a, Path(tmp) / "two-half")
    eff = two_half / (2 * one_half)
    row = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "preset": a.preset, "data": a.data,
           "global_batch": a.batch, "steps": a.steps, "threads": a.threads,
           "img_per_s_1proc_all_threads": round(one_all, 1), "img_per_s_1proc_half_threads": round(one_half, 1),
           "img_per_s_2proc_half_threads": round(two_half, 1), "scaling_efficiency": round(eff, 3),
           "speedup_vs_1proc_all_threads": round(two_half / one_all, 3), "loadavg_1min_before": load_before,
           "machine": machine_info("cpu")}
    print(f"{a.preset} on {a.data}, global batch {a.batch}, {a.threads} threads on the machine:")
    print(f"  1 process,  {a.threads} threads: {one_all:8.1f} img/s")
    print(f"  1 process,  {half} threads: {one_half:8.1f} img/s")
    print(f"  2 processes, {half} threads each: {two_half:8.1f} img/s")
    print(f"  scaling efficiency {eff:.2f} (2-process img/s / twice the {half}-thread process); "
          f"{two_half / one_all:.2f}x the {a.threads}-thread process; load average before: {load_before}")
    if not a.no_save:
        append_row(RESULTS, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
