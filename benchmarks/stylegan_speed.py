"""StyleGAN2's speed on this machine: the modulated conv's three implementations, layer by layer
and as a whole training step, in fp32 and bf16, and the stylegan2 preset's training speed at
other widths. The default implementation (``MODCONV_DEFAULT``) and the presets' widths
(``STYLEGAN_WIDTHS``) come from these tables.

    python benchmarks/stylegan_speed.py                  # the three tables (~20 min on one shared core)
    python benchmarks/stylegan_speed.py --parts layers   # the per-layer table only (~5 min shared)
    python benchmarks/stylegan_speed.py --parts layout --rounds 5 --steps 8   # memory layout, both presets
    python benchmarks/stylegan_speed.py --smoke          # toy sizes, one round, no file (the test suite)

Tables:

* layers - ``modulated_conv2d(..., impl=)``, forward and backward (gradients of the input, the
  weight and the styles), batch ``--batch`` (32), at every distinct layer shape of the stylegan2
  and stylegan2-64 generators (3x3 convs, the upsampling ones among them, and 1x1 toRGB layers),
  each impl in fp32 and in bf16 (``torch.autocast``): ms per call and GFLOP/s of the
  convolution's hand count (``6 N C_out C_in k^2 H W`` at the output's resolution: forward,
  input gradient, weight gradient), median of ``--layer-rounds`` (5) rounds.
* impls - img/s of whole training steps (``GANTrainer.train_step``: D and G updates, lazy R1,
  path length, G_ema) of the stylegan2 preset with G and G_ema set to each impl
  (``G.set_modconv``): fp32 at --channel-max 32, 64 (the preset's) and 128, bf16 at 64.
* widths - the same step with the default impl in fp32 at --channel-max 32, 64, 128 and
  --mapping-layers 2 (the preset's) and 8.
* layout - the step of each of --presets (at its own size, channels and colour) with the default
  impl, in each of --precisions, with contiguous (NCHW) tensors and with channels-last (NHWC,
  ``--channels-last``): whether the presets should train channels-last.

A width is ``--channel-max`` C with ``--channel-base`` kept at the preset's multiple of it
(16 C for stylegan2: C channels from 16 px down, C/2 at 32 px).

Timing. The shared core changes speed from one minute to the next, so every variant is built
and warmed up first, then the variants take turns (round-robin) for ``--rounds`` rounds and a
figure is the median of its rounds. A step timing covers ``--steps`` steps (4: one path-length
step each); the lazy R1 step (one in 16) falls in at most one timing in four, so the median
leaves it out (the JSON keeps every round). The 1-minute load average is recorded at every round.
bf16 runs natively only with AVX512-BF16 or AMX (``cpu_isa`` in the machine info); elsewhere
oneDNN emulates it and the bf16 rows show what that costs.
Results are printed and appended, with machine info, to benchmarks/results/stylegan_speed.jsonl.
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

from ganforge.config import RunConfig, set_field
from ganforge.models import build_models
from ganforge.models.resample import setup_filter
from ganforge.models.stylegan2 import MODCONV_DEFAULT, MODCONV_IMPLS, modulated_conv2d
from ganforge.presets import get_preset
from ganforge.progress import progress_bar
from ganforge.train.builder import build_trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402  (benchmarks/machine.py)
from throughput import fake_dataset, img_channels  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "stylegan_speed.jsonl"
PRECISIONS = ("fp32", "bf16")


def loadavg() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def round_robin(runners: dict, rounds: int, desc: str, loads: list) -> dict[str, list[float]]:
    """Each runner (``name -> run() -> seconds``) timed once per round, in turn; every round's
    load average is appended to ``loads``. Returns name -> seconds of each round."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    with progress_bar(total=rounds * len(runners), desc=desc, unit="timing") as bar:
        for _ in range(rounds):
            loads.append(loadavg())
            for name, run in runners.items():
                times[name].append(run())
                bar.update(1)
    return times


# --------------------------------------------------------------------------- the layers
def set_width(cfg: RunConfig, channel_max: int) -> None:
    """``--channel-max channel_max`` with ``--channel-base`` at the preset's multiple of it."""
    ratio = cfg.model.channel_base // cfg.model.channel_max
    set_field(cfg, "model.channel_max", channel_max)
    set_field(cfg, "model.channel_base", ratio * channel_max)


def layer_shapes(presets: list[str], channels: int | None) -> list[dict]:
    """Distinct (c_in, c_out, kernel, res, up, demodulate) of the presets' generator layers, in
    network order, each with the presets that have it. ``channels``: override the widths (toy runs)."""
    shapes: dict[tuple, dict] = {}
    for preset in presets:
        cfg = get_preset(preset)
        if channels:
            set_width(cfg, channels)
        G, _ = build_models(cfg.model, img_channels(cfg), cfg.data.size)
        for block in G.syn.blocks():
            for m in ([block.conv1] if block.num_conv == 1 else [block.conv0, block.conv1]) + [block.torgb]:
                c_out, c_in, k, _ = m.weight.shape
                up, demod = bool(getattr(m, "up", False)), m is not block.torgb
                key = (c_in, c_out, k, block.res, up, demod)
                shapes.setdefault(key, {"c_in": c_in, "c_out": c_out, "kernel": k, "res": block.res, "up": up,
                                        "demodulate": demod, "presets": []})
                if preset not in shapes[key]["presets"]:
                    shapes[key]["presets"].append(preset)
    return list(shapes.values())


def layer_name(shape: dict) -> str:
    k = shape["kernel"]
    return f"{shape['c_in']}->{shape['c_out']} {k}x{k}{' up' if shape['up'] else ''} @{shape['res']}"


def conv_flops(shape: dict, batch: int) -> int:
    """Hand count of the modulated conv's forward + backward: three convolutions' multiply-adds
    (output, input gradient, weight gradient), 2 FLOPs each; the (de)modulation is not counted."""
    k = shape["kernel"]
    return 3 * 2 * batch * shape["c_out"] * shape["c_in"] * k * k * shape["res"] ** 2


def layer_call(shape: dict, batch: int, impl: str, precision: str):
    """One forward + backward of the modulated conv at ``shape``, as a closure; random inputs."""
    g = torch.Generator().manual_seed(0)
    c_in, c_out, k, r, up = shape["c_in"], shape["c_out"], shape["kernel"], shape["res"], shape["up"]
    x = torch.randn(batch, c_in, r // 2 if up else r, r // 2 if up else r, generator=g).requires_grad_()
    weight = (torch.randn(c_out, c_in, k, k, generator=g) / (c_in * k * k) ** 0.5).requires_grad_()
    styles = (1 + 0.2 * torch.randn(batch, c_in, generator=g)).requires_grad_()
    grad = torch.randn(batch, c_out, r, r, generator=g)
    f1 = setup_filter()

    def call() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = modulated_conv2d(x, weight, styles, shape["demodulate"], impl, up=up, f1=f1)
        out.backward(grad.to(out.dtype))
        x.grad = weight.grad = styles.grad = None

    return call


def timed_layer(call, target_s: float):
    """A runner timing ``reps`` calls, ``reps`` chosen so one timing takes about ``target_s``."""
    call()  # warm-up
    t = time.perf_counter()
    call()
    reps = max(1, round(target_s / max(time.perf_counter() - t, 1e-6)))

    def run() -> float:
        t0 = time.perf_counter()
        for _ in range(reps):
            call()
        return (time.perf_counter() - t0) / reps

    return run


def bench_layers(a) -> list[dict]:
    shapes = layer_shapes(a.presets, a.channels)
    rows, loads = [], []
    for i, shape in enumerate(shapes):
        runners = {(impl, prec): timed_layer(layer_call(shape, a.batch, impl, prec), a.layer_seconds)
                   for prec in a.precisions for impl in MODCONV_IMPLS}
        name = layer_name(shape)
        times = round_robin(runners, a.layer_rounds, f"layer {i + 1}/{len(shapes)} {name}", loads)
        flops = conv_flops(shape, a.batch)
        for (impl, prec), ts in times.items():
            s = statistics.median(ts)
            rows.append({"part": "layers", "layer": name, **shape, "batch": a.batch, "impl": impl,
                         "precision": prec, "rounds": a.layer_rounds, "ms": round(s * 1e3, 3),
                         "all_ms": [round(t * 1e3, 3) for t in ts],
                         "gflop": round(flops / 1e9, 4), "gflops_per_s": round(flops / s / 1e9, 2)})
    print(f"\nmodulated conv, forward + backward, batch {a.batch}: ms per call (GFLOP/s), median of "
          f"{a.layer_rounds} rounds; load {_span(loads)}")
    cols = [(impl, prec) for prec in a.precisions for impl in MODCONV_IMPLS]
    print(f"  {'layer':<25} {'presets':<24}" + "".join(f"{impl + ' ' + prec:>19}" for impl, prec in cols))
    for shape in shapes:
        name = layer_name(shape)
        by = {(r["impl"], r["precision"]): r for r in rows if r["layer"] == name}
        print(f"  {name:<25} {','.join(shape['presets']):<24}" + "".join(
            f" {by[c]['ms']:>10.2f} ({by[c]['gflops_per_s']:>5.1f})" for c in cols))
    for r in rows:
        r["loadavg"] = loads
    return rows


# --------------------------------------------------------------------------- whole steps
def step_variants(a) -> list[dict]:
    """The step variants of the impls and widths tables, without duplicates."""
    variants: dict[tuple, dict] = {}

    def add(table: str, channels: int, mapping: int, impl: str, precision: str) -> None:
        key = (channels, mapping, impl, precision)
        variants.setdefault(key, {"channels": channels, "mapping_layers": mapping, "impl": impl,
                                  "precision": precision, "tables": []})["tables"].append(table)

    if "impls" in a.parts:
        for ch in a.widths:
            for impl in MODCONV_IMPLS:
                add("impls", ch, a.base_mapping, impl, "fp32")
        if "bf16" in a.precisions:
            for impl in MODCONV_IMPLS:
                add("impls", a.base_channels, a.base_mapping, impl, "bf16")
    if "widths" in a.parts:
        for ch in a.widths:
            for mapping in a.mapping_layers:
                add("widths", ch, mapping, MODCONV_DEFAULT, "fp32")
    return list(variants.values())


def step_config(preset: str, v: dict, batch: int) -> RunConfig:
    cfg = get_preset(preset)
    set_width(cfg, v["channels"])
    for field, value in (("model.mapping_layers", v["mapping_layers"]), ("train.precision", v["precision"]),
                         ("train.batch_size", batch), ("train.channels_last", v.get("channels_last", False))):
        set_field(cfg, field, value)
    return cfg


def step_runner(cfg: RunConfig, impl: str, steps: int, warmup: int):
    """A trainer for ``cfg`` with every modulated conv as ``impl``, warmed up; returns run() ->
    seconds of ``steps`` training steps."""
    torch.manual_seed(0)
    size, c = cfg.data.size, img_channels(cfg)
    tr = build_trainer(cfg, c, size)
    for G in (tr.G, tr.G_ema):
        if G is not None:
            G.set_modconv(impl)
    b = cfg.train.batch_size
    images = fake_dataset(4 * b, size, torch.device("cpu"), c)
    i = 0

    def run(n: int = steps) -> float:
        nonlocal i
        t0 = time.perf_counter()
        for _ in range(n):
            tr.train_step(images[(i % 4) * b:(i % 4 + 1) * b])
            i += 1
        return time.perf_counter() - t0

    run(warmup)
    return run


def bench_steps(a) -> list[dict]:
    variants = step_variants(a)
    if not variants:
        return []
    runners = {}
    with progress_bar(total=len(variants), desc="building + warm-up", unit="variant") as bar:
        for v in variants:
            cfg = step_config(a.step_preset, v, a.batch)
            runners[_key(v)] = step_runner(cfg, v["impl"], a.steps, a.warmup)
            bar.update(1)
    loads: list = []
    times = round_robin(runners, a.rounds, "training steps", loads)
    rows = []
    for v in variants:
        ts = times[_key(v)]
        s = statistics.median(ts)
        rows.append({"part": "steps", "preset": a.step_preset, **v, "batch": a.batch, "steps": a.steps,
                     "rounds": a.rounds, "img_per_s": round(a.steps * a.batch / s, 1),
                     "all_img_per_s": [round(a.steps * a.batch / t, 1) for t in ts], "loadavg": loads})
    by = {_key(r): r for r in rows}
    head = (f"{a.step_preset} training step (GANTrainer.train_step), batch {a.batch}: img/s, median of "
            f"{a.rounds} rounds of {a.steps} steps; load {_span(loads)}")
    if "impls" in a.parts:
        print(f"\n{head}\n  modulated conv impl (G and G_ema), mapping layers {a.base_mapping}")
        lines = [(f"fp32, channels {ch}", ch, "fp32") for ch in a.widths]
        if "bf16" in a.precisions:
            lines.append((f"bf16, channels {a.base_channels}", a.base_channels, "bf16"))
        print(f"  {'':<22}" + "".join(f"{impl:>10}" for impl in MODCONV_IMPLS))
        for label, ch, prec in lines:
            print(f"  {label:<22}" + "".join(
                f"{by[(ch, a.base_mapping, impl, prec)]['img_per_s']:>10.1f}" for impl in MODCONV_IMPLS))
    if "widths" in a.parts:
        print(f"\n{head}\n  widths, impl {MODCONV_DEFAULT}, fp32")
        print(f"  {'--channel-max':<22}" + "".join(f"{'mapping ' + str(m):>12}" for m in a.mapping_layers))
        for ch in a.widths:
            print(f"  {ch:<22}" + "".join(
                f"{by[(ch, m, MODCONV_DEFAULT, 'fp32')]['img_per_s']:>12.1f}" for m in a.mapping_layers))
    return rows


LAYOUTS = {"contiguous": False, "channels-last": True}


def bench_layout(a) -> list[dict]:
    """The layout table: each preset's step, NCHW against NHWC, in each precision."""
    variants = []
    for preset in a.presets:
        model = get_preset(preset).model
        for prec in a.precisions:
            for layout, cl in LAYOUTS.items():
                variants.append({"preset": preset, "channels": a.channels or model.channel_max,
                                 "mapping_layers": model.mapping_layers, "impl": MODCONV_DEFAULT, "precision": prec,
                                 "layout": layout, "channels_last": cl})
    runners = {}
    with progress_bar(total=len(variants), desc="building + warm-up", unit="variant") as bar:
        for v in variants:
            cfg = step_config(v["preset"], v, a.batch)
            runners[(v["preset"], v["precision"], v["layout"])] = step_runner(cfg, v["impl"], a.steps, a.warmup)
            bar.update(1)
    loads: list = []
    times = round_robin(runners, a.rounds, "training steps", loads)
    rows = []
    for v in variants:
        ts = times[(v["preset"], v["precision"], v["layout"])]
        rows.append({"part": "layout", **v, "batch": a.batch, "steps": a.steps, "rounds": a.rounds,
                     "img_per_s": round(a.steps * a.batch / statistics.median(ts), 1),
                     "all_img_per_s": [round(a.steps * a.batch / t, 1) for t in ts], "loadavg": loads})
    by = {(r["preset"], r["precision"], r["layout"]): r["img_per_s"] for r in rows}
    print(f"\nmemory layout: training step (GANTrainer.train_step), impl {MODCONV_DEFAULT}, batch {a.batch}: img/s, "
          f"median of {a.rounds} rounds of {a.steps} steps; load {_span(loads)}")
    print(f"  {'preset, precision':<26}" + "".join(f"{name:>15}" for name in LAYOUTS) + f"{'NHWC / NCHW':>13}")
    for preset in a.presets:
        for prec in a.precisions:
            nchw, nhwc = by[(preset, prec, "contiguous")], by[(preset, prec, "channels-last")]
            print(f"  {preset + ', ' + prec:<26}{nchw:>15.1f}{nhwc:>15.1f}{nhwc / nchw:>12.2f}x")
    return rows


def _key(v: dict) -> tuple:
    return v["channels"], v["mapping_layers"], v["impl"], v["precision"]


def _span(loads: list) -> str:
    known = [x for x in loads if x is not None]
    return f"{min(known):.1f}-{max(known):.1f}" if known else "unknown"


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="layers,impls,widths",
                   help="comma-separated tables to measure: layers, impls, widths, layout")
    p.add_argument("--presets", default="stylegan2,stylegan2-64",
                   help="the presets whose layer shapes (layers) and steps (layout) are timed")
    p.add_argument("--step-preset", default="stylegan2", help="the preset whose training step is timed")
    p.add_argument("--widths", type=_ints, default=[32, 64, 128],
                   help="--channel-max of the step tables (--channel-base at the preset's multiple of it)")
    p.add_argument("--mapping-layers", type=_ints, default=[2, 8], help="--mapping-layers of the widths table")
    p.add_argument("--precisions", default="fp32,bf16", help="fp32 and/or bf16 (autocast)")
    p.add_argument("--batch", type=int, default=32, help="images per call or per step")
    p.add_argument("--rounds", type=int, default=3, help="round-robin rounds; each figure is its median")
    p.add_argument("--steps", type=int, default=4, help="training steps per timing")
    p.add_argument("--warmup", type=int, default=2, help="training steps before timing")
    p.add_argument("--layer-rounds", type=int, default=5, help="round-robin rounds of the layers table")
    p.add_argument("--layer-seconds", type=float, default=0.1, help="about this long per layer timing")
    p.add_argument("--smoke", action="store_true",
                   help="toy sizes (8 channels, batch 4, 1 round of 1 step), prints only; for the tests")
    p.add_argument("--no-save", action="store_true", help="print only")
    a = p.parse_args(argv)
    a.parts = [x for x in a.parts.split(",") if x]
    a.presets = [x for x in a.presets.split(",") if x]
    a.precisions = [x for x in a.precisions.split(",") if x]
    a.channels = None
    bad = [x for x in a.parts if x not in ("layers", "impls", "widths", "layout")] + \
        [x for x in a.precisions if x not in PRECISIONS]
    if bad:
        p.error(f"unknown --parts or --precisions entries: {', '.join(bad)}")
    if a.smoke:
        a.batch, a.rounds, a.layer_rounds, a.steps, a.warmup, a.layer_seconds, a.no_save = 4, 1, 1, 1, 1, 0.0, True
        a.widths, a.mapping_layers, a.channels = [8, 16], [1, 2], 8
    base = get_preset(a.step_preset).model
    a.base_channels, a.base_mapping = a.channels or base.channel_max, base.mapping_layers
    info = machine_info("cpu")
    native = bool(set(info.get("cpu_isa", [])) & {"avx512_bf16", "amx_bf16"})
    print(f"{info['cpu']} ({info.get('cpu_vendor', '?')}, ISA {','.join(info.get('cpu_isa', [])) or '?'}), "
          f"{info['threads']} threads, torch {info['torch']}, load {info.get('loadavg_1min')}; "
          f"bf16 {'native' if native else 'emulated (no AVX512-BF16/AMX)'}")
    t0 = time.perf_counter()
    rows = (bench_layers(a) if "layers" in a.parts else []) + bench_steps(a) + \
        (bench_layout(a) if "layout" in a.parts else [])
    print(f"\n{time.perf_counter() - t0:.0f} s in all")
    if not a.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(json.dumps({"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": info,
                                "bf16_native": native, "args": " ".join(sys.argv[1:] if argv is None else argv),
                                "seconds": round(time.perf_counter() - t0), "rows": rows}) + "\n")
        print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
