"""Time per training step of two ganforge checkouts, interleaved, to compare trainer versions.

    python benchmarks/trainer_ab.py --a /tmp/old/src --b src --preset best-fmnist --rounds 6

Each round runs one fresh process per checkout (A then B, then B then A in the next round, so
neither always goes first): it builds the preset's trainer on fixed synthetic images of the
preset's shape, takes ``--warmup`` steps, then times ``--steps`` steps of ``train_step`` alone
(no logging, grids or checkpoints). Interleaving shares any drift in machine load between the two;
the medians and their ratio are printed and appended to benchmarks/results/trainer_ab.jsonl.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "trainer_ab.jsonl"

CHILD = r"""
import sys, time, torch
sys.path.insert(0, sys.argv[1])
from ganforge.presets import get_preset
from ganforge.config import set_field
from ganforge.train.builder import build_trainer
preset, warmup, steps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
cfg = get_preset(preset)
set_field(cfg, "train.device", "cpu")
torch.manual_seed(0)
tr = build_trainer(cfg, 1, 28, torch.device("cpu"))
n = cfg.train.batch_size * cfg.tricks.n_critic
data = torch.randint(0, 256, (n * 8, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
for i in range(warmup):
    tr.train_step(data[(i % 8) * n:(i % 8 + 1) * n])
t = time.perf_counter()
for i in range(steps):
    st = tr.train_step(data[(i % 8) * n:(i % 8 + 1) * n])
float(st.d_loss)
print((time.perf_counter() - t) / steps * 1000)
"""


def run(src: str, preset: str, warmup: int, steps: int) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, str(Path(src).resolve()), preset, str(warmup), str(steps)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", required=True, help="src folder of checkout A")
    p.add_argument("--b", required=True, help="src folder of checkout B")
    p.add_argument("--preset", default="best-fmnist")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--no-save", action="store_true")
    a = p.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine_info  # noqa: E402  (benchmarks/machine.py)
    from runs import append_row  # noqa: E402  (benchmarks/runs.py)

    times: dict[str, list[float]] = {"a": [], "b": []}
    for r in range(a.rounds):
        for which in (("a", "b") if r % 2 == 0 else ("b", "a")):
            ms = run(getattr(a, which), a.preset, a.warmup, a.steps)
            times[which].append(ms)
            print(f"round {r + 1}: {which.upper()} {ms:.1f} ms/step", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{a.preset}: A {med['a']:.1f} ms/step ({a.a}), B {med['b']:.1f} ms/step ({a.b}); "
          f"B/A {med['b'] / med['a']:.3f}")
    if not a.no_save:
        row = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "preset": a.preset,
               "a": a.a, "b": a.b, "ms_per_step": times, "median": med, "ratio_b_over_a": med["b"] / med["a"],
               "machine": machine_info("cpu")}
        append_row(RESULTS, row)


if __name__ == "__main__":
    main()
