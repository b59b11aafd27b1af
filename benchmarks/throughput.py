"""Training throughput of full GAN steps (img/s), ganforge fp32 vs bf16, in one process.

    python benchmarks/throughput.py                      # tf-tutorial, 28x28 grey, its batch 256
    python benchmarks/throughput.py --preset dcgan --steps 20
    python benchmarks/throughput.py --smoke              # 1 step each, for the test suite

Each mode: build G and D from the preset, run warm-up steps, then time --steps full training
steps (D phase + G phase, optimizer updates included) on random uint8 images held on the
device. Prints a table and appends a JSON line with machine info to benchmarks/results/.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from ganforge.config import set_field
from ganforge.models import ARCHS
from ganforge.presets import get_preset
from ganforge.train.loop import GANTrainer, bf16_supported, resolve_device

RESULTS = Path(__file__).resolve().parent / "results" / "throughput.jsonl"


def time_mode(preset: str, precision: str, device: torch.device, steps: int, warmup: int,
              batch_size: int | None, size: int | None) -> dict:
    cfg = get_preset(preset)
    set_field(cfg, "train.precision", precision)
    if batch_size:
        set_field(cfg, "train.batch_size", batch_size)
    spec = ARCHS[cfg.model.arch]
    size = size or spec.native_size or 28
    torch.manual_seed(0)
    trainer = GANTrainer(cfg, 1, size, device)
    b = cfg.train.batch_size
    images = torch.randint(0, 256, (b * 4, 1, size, size), dtype=torch.uint8, device=device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for i in range(warmup):
        trainer.train_step(images[(i % 4) * b:(i % 4 + 1) * b])
    sync()
    t0 = time.perf_counter()
    for i in range(steps):
        stats = trainer.train_step(images[(i % 4) * b:(i % 4 + 1) * b])
    float(stats.d_loss)  # forces the last step to finish
    sync()
    dt = time.perf_counter() - t0
    return {"preset": preset, "precision": precision, "batch_size": b, "size": size, "steps": steps,
            "seconds": round(dt, 3), "img_per_s": round(steps * b / dt, 1)}


def machine_info(device: torch.device) -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "cpu": platform.processor() or
            platform.machine(), "threads": torch.get_num_threads(), "device": str(device)}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tf-tutorial")
    p.add_argument("--steps", type=int, default=10, help="timed steps per mode")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    p.add_argument("--size", type=int, default=None, help="image size for configurable archs")
    p.add_argument("--device", default="auto")
    p.add_argument("--smoke", action="store_true", help="1 warm-up + 1 timed step, batch 8, no results file")
    a = p.parse_args(argv)
    if a.smoke:
        a.steps, a.warmup, a.batch_size = 1, 1, a.batch_size or 8
    device = resolve_device(a.device)
    modes = ["fp32"] + (["bf16"] if bf16_supported(device) else [])
    rows = [time_mode(a.preset, m, device, a.steps, a.warmup, a.batch_size, a.size) for m in modes]
    base = rows[0]["img_per_s"]
    info = machine_info(device)
    print(f"{a.preset}: batch {rows[0]['batch_size']}, {rows[0]['size']}x{rows[0]['size']}, "
          f"{a.steps} timed steps after {a.warmup} warm-up; {info['cpu']}, {info['threads']} threads, torch {info['torch']}")
    print(f"{'precision':<10} {'img/s':>10} {'vs fp32':>8}")
    for r in rows:
        print(f"{r['precision']:<10} {r['img_per_s']:>10.1f} {r['img_per_s'] / base:>7.2f}x")
    if not a.smoke:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(json.dumps({"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                "machine": info, "rows": rows}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
