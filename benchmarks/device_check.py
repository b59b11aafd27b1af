"""The parts of ``benchmarks/device_check.sh``: one part per call, each adding its rows to one JSON file.

    python benchmarks/device_check.py env --out FILE [--smoke]
    python benchmarks/device_check.py throughput --preset tf-tutorial --out FILE [--deadline S] [--smoke]
    python benchmarks/device_check.py train --out FILE --data-dir DIR --run RUN [--minutes 3] [--smoke]
    python benchmarks/device_check.py evaluate --out FILE --run RUN [--smoke]
    python benchmarks/device_check.py genscore --out FILE [--smoke]
    python benchmarks/device_check.py extra-presets          # prints stylegan*/progan* preset names
    python benchmarks/device_check.py note --out FILE --part NAME --status TEXT
    python benchmarks/device_check.py report --out FILE      # the table

The shell script runs each part under its own time limit, so a part that hangs or crashes
costs only its own rows; every part rewrites the JSON as soon as it has a new row. Run the
shell script, not this file (it also finds the data, the Python with CUDA and the time budget).

Throughput rows per preset (img/s of full training steps: D update + G update, on random uint8
batches already on the device; median of ``--repeats`` timings of ``--steps`` steps each, after
warm-up steps that include any compile or graph capture):

* naive eager fp32 - the plain PyTorch loop of ``benchmarks/throughput.py`` (imported, not copied);
* ganforge fp32 - every option off, multi-tensor (foreach) Adam;
* each optimisation alone on top of it: fused Adam, bf16 autocast, channels-last,
  torch.compile (its compile time beside it), CUDA graphs (``--cuda-graphs``), a 4x larger batch;
* ganforge default - what ``ganforge train --preset P`` does on this device; and the default
  plus CUDA graphs.

Each row has achieved TFLOP/s (the step's convolution and matmul FLOPs by torch's formulas, fwd +
bwd, the mean over the preset's lazy-regularisation cycle: ``throughput.step_flops``, over the time),
MFU against the device's dense bf16 peak (:data:`PEAK_BF16_TFLOPS`) and against a bf16 matmul
measured here, and the mode's peak GPU memory. A preset runs at its own image size and channels
(stylegan2-64 and progan-64: 64 px RGB).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# torch, ganforge and benchmarks/throughput.py (the naive loop, ganforge's step, FLOPs, scoring) are
# imported by the measuring parts only, so that `note`, `report` and `extra-presets` start at once.
torch = throughput = machine_info = None


def _imports() -> None:
    global torch, throughput, machine_info
    import torch as _torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import throughput as _throughput
    from machine import machine_info as _machine_info

    torch, throughput, machine_info = _torch, _throughput, _machine_info

# Dense (no sparsity) bf16 tensor-core peaks from the vendors' datasheets, TFLOP/s; the first name
# that is a substring of torch.cuda.get_device_name() wins, so the specific names come first.
PEAK_BF16_TFLOPS = [
    ("H200 NVL", 835.0), ("GH200", 989.4), ("H200", 989.4),
    ("H100 NVL", 835.0), ("H100 PCIe", 756.0), ("H100", 989.4),  # plain "H100 80GB HBM3" is the SXM part
    ("H800", 989.4), ("A100", 312.0), ("A800", 312.0), ("A30", 165.0), ("A10G", 70.0), ("A10", 125.0),
    ("L40S", 362.0), ("L40", 181.0), ("L4", 121.0), ("RTX 6000 Ada", 364.0), ("RTX 4090", 165.2),
    ("RTX 3090", 71.0), ("B200", 2250.0), ("B100", 1750.0),
]


def peak_bf16(gpu_name: str | None) -> tuple[str, float] | None:
    """(matched name, dense bf16 TFLOP/s) for a GPU name, or None when the table lacks it."""
    for key, tflops in PEAK_BF16_TFLOPS:
        if gpu_name and key in gpu_name:
            return key, tflops
    return None


# --------------------------------------------------------------------------- the JSON file
def load(out: Path) -> dict:
    try:
        return json.loads(out.read_text())
    except (OSError, ValueError):
        return {"parts": {}}


def save_part(out: Path, part: str, value) -> None:
    """Replace ``part`` in the JSON file (atomically: a kill mid-write keeps the last good file)."""
    doc = load(out)
    doc.setdefault("parts", {})[part] = value
    doc["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    tmp.replace(out)


def sig(x: float, digits: int = 4) -> float:
    """``x`` to ``digits`` significant digits (toy smoke figures stay non-zero)."""
    return float(f"{x:.{digits}g}")


def sync(device: "torch.device") -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------- env
def matmul_tflops(device: "torch.device", n: int, dtype: "torch.dtype", reps: int) -> float:
    """Rate of an n x n x n matrix product on random data (mean of ``reps`` after 2 warm-ups)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    sync(device)
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e12


def part_env(a, device: "torch.device") -> dict:
    info = machine_info(device)
    info["cuda"] = torch.version.cuda
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(gpu_memory_gib=round(props.total_memory / 2**30, 1), sms=props.multi_processor_count,
                    capability=f"{props.major}.{props.minor}", cudnn=torch.backends.cudnn.version())
        match = peak_bf16(info["gpu"])
        info["peak_bf16_tflops"] = match[1] if match else None
        info["peak_from"] = f"datasheet table: {match[0]}" if match else "not in the table (MFU left out)"
    n, reps = (256, 2) if a.smoke else (8192, 10)
    info["matmul_bf16_tflops"] = round(matmul_tflops(device, n, torch.bfloat16, reps), 1)
    info["matmul_fp32_tflops"] = round(matmul_tflops(device, n // 2, torch.float32, reps), 1)  # (tf32 off)
    batch = 1 if a.smoke else 64
    info["conv_fp32_tflops"] = round(throughput.conv_peak(device, torch.float32, batch) / 1e12, 2)
    info["conv_bf16_tflops"] = round(throughput.conv_peak(device, torch.bfloat16, batch) / 1e12, 2)
    print(f"env: {info.get('gpu', info['cpu'])}, torch {info['torch']} (CUDA {info['cuda']}); "
          f"bf16 matmul {info['matmul_bf16_tflops']} TFLOP/s measured, "
          f"{info.get('peak_bf16_tflops')} on the datasheet")
    return info


# --------------------------------------------------------------------------- throughput
def modes_for(cfg, device: "torch.device", smoke: bool) -> list[tuple[str, dict, str | None]]:
    """(row name, overrides of ganforge_step, why it is skipped or None): the most important first,
    and the riskiest (a graph capture, a compile) last, so a failure there costs no other row."""
    b = cfg.train.batch_size
    off = {"precision": "fp32", "channels_last": False, "fast_dropout": False, "reuse_fake": False,
           "mirror_padding": False, "fused": False}
    cuda = device.type == "cuda"
    no_cuda = None if cuda else "needs CUDA"
    return [
        ("ganforge fp32 (every option off)", off, None),
        ("ganforge default", {}, None),
        ("+ fused Adam", {**off, "fused": True}, no_cuda),
        ("+ bf16 autocast", {**off, "precision": "bf16"}, None),
        ("+ channels-last", {**off, "channels_last": True}, None),
        (f"+ batch {4 * b} (4x)", {**off, "batch_size": 4 * b}, None),
        ("+ CUDA graphs", {**off, "cuda_graphs": True}, no_cuda),
        ("default + CUDA graphs", {"cuda_graphs": True}, no_cuda),
        ("+ torch.compile", {**off, "compile": True}, "too slow for --smoke" if smoke else None),
    ]


def measure(make_run, steps: int, repeats: int, images_per_step: int, device: "torch.device") -> dict:
    """Build a mode (``make_run() -> (run, first_step_s)``), time it; img/s, peak memory, compile time."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    t0 = time.perf_counter()
    run, first = make_run()
    setup_s = time.perf_counter() - t0
    times = [run(steps) for _ in range(repeats)]
    row = {"img_per_s": round(steps * images_per_step / statistics.median(times), 1),
           "batch_size": images_per_step, "seconds": [round(t, 4) for t in times], "setup_s": round(setup_s, 1),
           "first_step_s": round(first, 2) if first is not None else None}
    if device.type == "cuda":
        row["peak_mem_mib"] = round((torch.cuda.max_memory_allocated(device) - base) / 2**20, 1)
    return row


def refused(cfg, overrides: dict) -> str | None:
    """Why ganforge would refuse this mode's config (``ganforge train`` validates it), or None."""
    from ganforge.config import RunConfig, set_field, validate
    from ganforge.errors import ConfigError

    c = RunConfig.from_dict(cfg.to_dict())
    for k, v in overrides.items():
        if k not in ("foreach", "fused"):
            set_field(c, f"train.{k}", v)
    try:
        validate(c)
    except ConfigError as e:
        return f"refused: {e}"
    return None


COMPILE_NEEDS_S = 30.0  # a compile of G and D (forward and backward) is not started with less time left


def part_throughput(a, device: "torch.device") -> dict:
    deadline = time.monotonic() + a.deadline if a.deadline else None
    cfg, size = throughput.preset_config(a.preset, a.batch_size, None)
    if a.smoke:  # toy widths where the architecture has them: the same code paths, quickly
        throughput.toy_widths(cfg)
    b = cfg.train.batch_size
    env = load(a.out).get("parts", {}).get("env", {})
    peak = env.get("peak_bf16_tflops")
    measured = env.get("matmul_bf16_tflops")
    flops = throughput.step_flops(cfg, size, device)  # fp32 step at batch b; scales with the batch
    result = {"preset": a.preset, "size": size, "batch_size": b, "gflop_per_step": round(flops / 1e9, 2),
              "steps": a.steps, "repeats": a.repeats, "warmup": a.warmup, "rows": []}
    print(f"{a.preset} {size}x{size}, batch {b}, {flops / 1e9:.1f} GFLOP/step; median of {a.repeats} x "
          f"{a.steps} steps after {a.warmup} warm-up")

    def add(name: str, row: dict) -> None:
        row = {"mode": name, **row}
        if "img_per_s" in row:
            tflops = flops / b * row["img_per_s"] / 1e12
            row["tflops"] = sig(tflops)
            row["mfu_pct"] = sig(100 * tflops / peak) if peak else None
            row["vs_matmul_pct"] = sig(100 * tflops / measured) if measured else None
        result["rows"].append(row)
        save_part(a.out, f"throughput {a.preset}", result)
        shown = f"{row['img_per_s']:>10.1f} img/s  {row['tflops']:.3f} TFLOP/s" if "img_per_s" in row \
            else f"  {row.get('skipped') or row.get('error')}"
        print(f"  {name:<34} {shown}", flush=True)

    def late(need_s: float = 0.0) -> bool:
        return deadline is not None and time.monotonic() + need_s > deadline

    add("naive eager fp32", measure(lambda: (throughput.naive_eager(cfg, size, device, a.warmup), None),
                                    a.steps, a.repeats, b, device))
    for name, ov, skip in modes_for(cfg, device, a.smoke):
        if skip or late(COMPILE_NEEDS_S if ov.get("compile") else 0.0):
            add(name, {"skipped": skip or "part time limit reached"})
            continue
        invalid = refused(cfg, ov)
        if invalid:  # e.g. CUDA graphs with a preset whose step changes a Python value every step
            add(name, {"skipped": invalid})
            continue
        n = ov.get("batch_size", b)
        try:
            row = measure(lambda: throughput.ganforge_step(cfg, size, device, a.warmup, **ov), a.steps, a.repeats,
                          n, device)
        except Exception as e:  # one mode failing (a capture error, say) must not cost the others
            row = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"}
        if ov.get("compile") and "first_step_s" in row:
            row["compile_s"] = row["first_step_s"]
        add(name, row)
        if ov.get("compile"):
            torch.compiler.reset()
    return result


# --------------------------------------------------------------------------- the training run, FD, scoring
def ganforge_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ganforge.cli", *args]


def part_train(a, device: "torch.device") -> dict:
    cmd = ganforge_cmd("train", "--preset", "best-fmnist", "--out", a.run, "--overwrite", "--no-progress",
                       "--device", str(device), "--data-dir", a.data_dir,
                       *(["--steps", "3", "--batch-size", "8", "--log-every", "1", "--g-channels", "8",
                          "--d-channels", "8"] if a.smoke
                         else ["--minutes", str(a.minutes)]))
    print(f"train: {'3 steps' if a.smoke else f'{a.minutes:g} minutes'} of best-fmnist on {device} ...", flush=True)
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    row = {"command": " ".join(cmd[2:]).replace("ganforge.cli", "ganforge"), "wall_s": round(time.perf_counter() - t, 1),
           "exit_code": proc.returncode}
    logs = [json.loads(line) for line in (Path(a.run) / "log.jsonl").read_text().splitlines()
            if line.strip()] if (Path(a.run) / "log.jsonl").exists() else []
    steps = [r for r in logs if "d_loss" in r]
    if steps:
        last = steps[-1]
        b = json.loads((Path(a.run) / "config.json").read_text())["train"]["batch_size"]
        row.update(steps=last["step"], train_s=last["time_s"], batch_size=b, img_per_s_last_interval=last["img_per_s"],
                   img_per_s_mean=round(last["step"] * b / max(last["time_s"], 1e-9), 1))
    if proc.returncode:
        row["stderr_tail"] = proc.stderr[-1500:]
    print(f"train: {row.get('steps')} steps of best-fmnist in {row.get('train_s')} s "
          f"(exit {proc.returncode})")
    return row


def part_evaluate(a, device: "torch.device") -> dict:
    cmd = ganforge_cmd("evaluate", a.run, "--json", "--no-progress", "--device", str(device),
                       *(["-n", "100", "--no-floor"] if a.smoke else []))
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    row = {"command": " ".join(cmd[2:]).replace("ganforge.cli", "ganforge"), "wall_s": round(time.perf_counter() - t, 1),
           "exit_code": proc.returncode}
    try:
        res = json.loads(proc.stdout[proc.stdout.index("{"):])
        row.update(metrics=res.get("metrics"), protocol=res.get("protocol"), timings=res.get("timings"))
        row["fd"] = res["metrics"].get("fd")
    except (ValueError, KeyError, AttributeError):
        row["stdout_tail"], row["stderr_tail"] = proc.stdout[-800:], proc.stderr[-1500:]
    print(f"evaluate: FD {row.get('fd')} in {row['wall_s']} s (exit {proc.returncode})")
    return row


def part_genscore(a, device: "torch.device") -> dict:
    cfg, size = throughput.preset_config("best-fmnist", None, None)
    row = throughput.generate_and_score(cfg, size, device, 200 if a.smoke else 10_000)
    return row


def part_report(a) -> int:
    doc = load(a.out)
    parts = doc.get("parts", {})
    env = parts.get("env", {})
    print(f"\n== device check: {env.get('gpu') or env.get('cpu')}, torch {env.get('torch')}, "
          f"peak bf16 {env.get('peak_bf16_tflops')} TFLOP/s (datasheet), "
          f"{env.get('matmul_bf16_tflops')} measured (8192^3 matmul) ==")
    for name, part in parts.items():
        if not name.startswith("throughput") or not isinstance(part, dict) or "rows" not in part:
            continue
        rows = part["rows"]
        base = next((r["img_per_s"] for r in rows if r.get("mode") == "naive eager fp32" and "img_per_s" in r), None)
        print(f"\n{part['preset']} {part['size']}x{part['size']}, batch {part['batch_size']}, "
              f"{part['gflop_per_step']} GFLOP/step")
        print(f"  {'mode':<34} {'img/s':>10} {'vs naive':>9} {'TFLOP/s':>9} {'MFU %':>7} {'mem MiB':>8}")
        for r in rows:
            if "img_per_s" not in r:
                print(f"  {r['mode']:<34} {r.get('skipped') or r.get('error')}")
                continue
            vs = f"{r['img_per_s'] / base:.2f}x" if base else "-"
            mfu = f"{r['mfu_pct']:.2f}" if r.get("mfu_pct") is not None else "-"
            extra = f"  (compile {r['compile_s']} s)" if r.get("compile_s") is not None else ""
            print(f"  {r['mode']:<34} {r['img_per_s']:>10.1f} {vs:>9} {r['tflops']:>9.3f} {mfu:>7} "
                  f"{r.get('peak_mem_mib', '-'):>8}{extra}")
    tr, ev, gs = parts.get("train", {}), parts.get("evaluate", {}), parts.get("genscore", {})
    print(f"\nbest-fmnist training: {tr.get('steps')} steps in {tr.get('train_s')} s "
          f"({tr.get('img_per_s_mean')} img/s); FD {ev.get('fd')} (`ganforge evaluate`, {ev.get('wall_s')} s)")
    if gs:
        print(f"generate + score {gs.get('n')} images: {gs.get('seconds')} s (sampling {gs.get('sampling_s')}, "
              f"features {gs.get('features_s')}, metrics {gs.get('metrics_s')})")
    for name, part in parts.items():
        if isinstance(part, dict) and part.get("status"):
            print(f"{name}: {part['status']}")
    print(f"\nJSON: {a.out}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("part", choices=("env", "throughput", "train", "evaluate", "genscore", "extra-presets",
                                    "note", "report"))
    p.add_argument("--out", type=Path, help="the JSON file the parts share")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, CPU allowed (the test suite runs it)")
    p.add_argument("--device", default="auto")
    p.add_argument("--preset", default="tf-tutorial")
    p.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    p.add_argument("--steps", type=int, default=30, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=6, help="steps before timing (CUDA graphs capture at the 4th)")
    p.add_argument("--deadline", type=float, default=None, help="seconds this part may take before it skips modes")
    p.add_argument("--run", help="the training run's folder")
    p.add_argument("--data-dir", help="folder holding the Fashion-MNIST files")
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--part", dest="note_part", help="note: which part")
    p.add_argument("--status", help="note: what happened to it")
    a = p.parse_args(argv)
    if a.part == "extra-presets":
        from ganforge.presets import PRESETS

        print(" ".join(n for n in PRESETS if n.startswith(("stylegan", "progan"))))
        return 0
    if a.part == "report":
        return part_report(a)
    if a.part == "note":
        save_part(a.out, a.note_part, {"status": a.status})
        return 0
    if a.smoke:
        a.steps, a.repeats, a.warmup, a.batch_size = 1, 1, 1, 8
    _imports()
    from ganforge.device import resolve_device

    device = resolve_device(a.device)
    fn = {"env": part_env, "throughput": part_throughput, "train": part_train, "evaluate": part_evaluate,
          "genscore": part_genscore}[a.part]
    name = f"throughput {a.preset}" if a.part == "throughput" else a.part
    save_part(a.out, name, fn(a, device))
    return 0


if __name__ == "__main__":
    sys.exit(main())
