"""Training throughput (img/s) of full GAN steps: a naive eager loop vs ganforge, each option alone.

    python benchmarks/throughput.py                        # tf-tutorial (28x28 grey, batch 256)
    python benchmarks/throughput.py --preset dcgan --size 64
    python benchmarks/throughput.py --all                  # tf-tutorial, dcgan 32 px, dcgan 64 px
    python benchmarks/throughput.py --stylegan --no-compile  # stylegan2 (32 px) and stylegan2-64, fp32 and bf16
    python benchmarks/throughput.py --smoke                # 1 step per mode, tiny batch (in make test)

Every mode builds the same G and D (same preset, same batch) and runs warm-up steps; then the
modes take turns timing ``--steps`` full training steps (D update + G update), ``--repeats``
rounds, and each row shows its mode's median. Rows:

* naive eager fp32 - the loop most PyTorch code has, written out below: a DataLoader over a
  float32 TensorDataset, one G forward reused for both phases (three D forwards), BCE module
  losses, ``.item()`` on both losses every step; with the preset's lazy R1 and (StyleGAN2) path
  length at their intervals, so that it does the work ganforge's step does. The baseline all
  ratios refer to.
* ganforge fp32 - ganforge's step with every option off.
* one row per option switched on alone over ganforge fp32 (bf16 autocast, channels-last,
  fast dropout masks when D has dropout, TF-'same' convs in a mirrored frame when the model has
  asymmetric ones, torch.compile, the seed's joint step vs alternating phases, reusing the D
  phase's fakes in the G phase, multi-tensor optimizers).
* ganforge default - what ``ganforge train`` does for this preset on this machine.

A preset's own image size and channels are used (stylegan2-64: 64 px RGB); the data is random uint8.
Achieved FLOP/s uses the convolution/matmul FLOPs of one step (torch's FLOP counter, fwd+bwd, with
the backward of a grouped convolution counted per group: :func:`flop_counter`), averaged over the
preset's regularisation cycle (StyleGAN2: 16 steps, one with lazy R1 and four with path length).
The bf16 row appears where bf16 runs natively, and with ``--bf16`` (or ``--stylegan``) also where
it does not (a CPU without AVX512-BF16/AMX emulates it: slow, and the row says so).
The ceiling line divides them into the rate of a large, well-shaped conv on the same machine
(fp32, and bf16 where it runs natively): no step of this model can run much faster than that.
Then generating 10,000 images with the preset's G (default precision) and scoring them (the
dataset's evaluator features when it is cached, else the same network untrained: the timing
is the same; FD, KID and precision/recall against 10,000 reference rows) is timed.
Results are printed and appended, with machine info, to benchmarks/results/throughput.jsonl.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import conv_flop_count, flop_registry, shape_wrapper

from ganforge.config import RunConfig, set_field
from ganforge.metrics.functional import (feature_statistics, frechet_distance, kernel_inception_distance,
                                         knn_radii, precision_recall)
from ganforge.metrics.networks import ClassifierNet, EvaluatorError, classifier_extractor, load_evaluator
from ganforge.models import ARCHS, build_models
from ganforge.presets import get_preset
from ganforge.models.layers_fast import use_mirrored_padding
from ganforge.device import bf16_supported, cpu_has_bf16, resolve_device
from ganforge.train.builder import build_trainer
from ganforge.train.trainer import GANTrainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402  (benchmarks/machine.py)

RESULTS = Path(__file__).resolve().parent / "results" / "throughput.jsonl"


def preset_config(preset: str, batch_size: int | None, size: int | None,
                  overrides: list[str] | tuple[str, ...] = ()) -> tuple[RunConfig, int]:
    """The preset's config (batch size overridden when given, then each ``SECTION.FIELD=VALUE`` of
    ``overrides``) and its image size: ``size``, else the preset's own (``data.size``), else the
    architecture's native size, else 28."""
    cfg = get_preset(preset)
    if batch_size:
        set_field(cfg, "train.batch_size", batch_size)
    for item in overrides:
        key, _, value = item.partition("=")
        set_field(cfg, key.strip(), value.strip())
    size = size or cfg.data.size or ARCHS[cfg.model.arch].native_size or 28
    return cfg, size


def toy_widths(cfg: RunConfig, channels: int = 8) -> None:
    """Narrow ``cfg``'s networks to about ``channels`` wide, in its architecture's own width
    settings (the DCGAN's base widths; ProGAN's and StyleGAN2's channel_max, with channel_base
    32x that); the seed models have fixed widths. For smoke runs of the same code paths."""
    from ganforge.config import set_field

    arch = cfg.model.arch
    fields = ({"model.g_channels": channels, "model.d_channels": channels} if arch == "dcgan" else
              {"model.channel_max": channels, "model.channel_base": 32 * channels} if arch in ("progan", "stylegan2")
              else {})
    for f, v in fields.items():
        set_field(cfg, f, v)


def img_channels(cfg: RunConfig) -> int:
    """The preset's image channels (stylegan2-64 and progan-64: RGB); 1 when it keeps the data's."""
    return cfg.data.channels or 1


def fake_dataset(n: int, size: int, device: torch.device, channels: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g).to(device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# --------------------------------------------------------------------------- the naive baseline
# Each mode is set up once (models, optimizers, warm-up steps) and returns a ``run(steps)``
# that times that many further steps; the modes then take turns, so a slow spell of a shared
# machine hits every mode alike, and the table shows each mode's median over the rounds.
def naive_eager(cfg: RunConfig, size: int, device: torch.device, warmup: int):
    """A plain PyTorch GAN loop, warmed up; returns run(steps) -> seconds."""
    torch.manual_seed(0)
    c = img_channels(cfg)
    G, D = build_models(cfg.model, c, size)
    G.to(device), D.to(device)
    b = cfg.train.batch_size
    data = fake_dataset(b * 4, size, device, c).float() / 127.5 - 1.0
    loader = DataLoader(TensorDataset(data), batch_size=b, shuffle=True, drop_last=True)
    o = cfg.optim
    if o.optimizer == "adam":
        opt_g = torch.optim.Adam(G.parameters(), lr=o.lr_g, betas=(o.beta1, o.beta2), foreach=False)
        opt_d = torch.optim.Adam(D.parameters(), lr=o.lr_d, betas=(o.beta1, o.beta2), foreach=False)
    else:
        opt_g = torch.optim.RMSprop(G.parameters(), lr=o.lr_g, alpha=o.rho, foreach=False)
        opt_d = torch.optim.RMSprop(D.parameters(), lr=o.lr_d, alpha=o.rho, foreach=False)
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(b, device=device), torch.zeros(b, device=device)
    # the preset's lazy regularisers, as a plain StyleGAN2 loop writes them: the same work as ganforge's
    lo, st = cfg.loss, cfg.style
    r1_every = lo.r1_every if lo.r1_gamma > 0 else 0
    pl_every = st.pl_every if cfg.model.arch == "stylegan2" and st.pl_weight > 0 else 0
    count, pl_mean = 0, torch.zeros((), device=device)

    def run(steps: int) -> float:
        nonlocal count, pl_mean
        done = 0
        sync(device)
        t0 = time.perf_counter()
        while done < steps:
            for (real,) in loader:
                if done == steps:
                    break
                z = torch.randn(b, cfg.model.z_dim, device=device)
                fake = G(z)
                opt_d.zero_grad()
                d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
                if r1_every and count % r1_every == 0:  # R1 on the reals, scaled by its interval
                    x = real.detach().requires_grad_(True)
                    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
                    d_loss = d_loss + lo.r1_gamma / 2 * r1_every * grad.square().sum(dim=(1, 2, 3)).mean()
                d_loss.backward()
                opt_d.step()
                opt_g.zero_grad()
                g_loss = bce(D(fake), ones)
                if pl_every and count % pl_every == 0:  # path length on a fresh, smaller batch
                    ws = G.broadcast(G.mapping(torch.randn(b // st.pl_batch_shrink, cfg.model.z_dim, device=device)))
                    img = G.synthesis(ws)
                    y = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
                    (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
                    lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
                    pl_mean = pl_mean.lerp(lengths.mean().detach(), st.pl_decay)
                    g_loss = g_loss + st.pl_weight * pl_every * (lengths - pl_mean).square().mean()
                g_loss.backward()
                opt_g.step()
                _ = (d_loss.item(), g_loss.item())  # the usual per-step logging
                done += 1
                count += 1
        sync(device)
        return time.perf_counter() - t0

    run(warmup)
    return run


# --------------------------------------------------------------------------- ganforge's step
def ganforge_step(cfg: RunConfig, size: int, device: torch.device, warmup: int, **overrides):
    """ganforge's step with config fields overridden (e.g. ``precision="bf16"``; ``foreach=False``
    and ``fused=False`` change the optimizers' kernels), warmed up; returns (run(steps) -> seconds, seconds of the first step, i.e. the compile time)."""
    cfg = RunConfig.from_dict(cfg.to_dict())
    overrides = dict(overrides)
    foreach = overrides.pop("foreach", True)
    fused = overrides.pop("fused", True)
    for k, v in overrides.items():
        set_field(cfg, f"train.{k}", v)
    torch.manual_seed(0)
    tr = build_trainer(cfg, img_channels(cfg), size, device)
    for opt in (tr.opt_g, tr.opt_d):
        for group in opt.param_groups:
            if not foreach:  # one kernel per parameter tensor, as optimizers did before multi-tensor kernels
                group["foreach"] = False
            if not fused and group.get("fused"):  # CUDA: the multi-tensor kernels instead of the fused one
                group["fused"], group["foreach"] = False, True
    b = cfg.train.batch_size
    images = fake_dataset(b * 4, size, device, img_channels(cfg))

    def run(steps: int) -> float:
        sync(device)
        t0 = time.perf_counter()
        for i in range(steps):
            stats = tr.train_step(images[(i % 4) * b:(i % 4 + 1) * b])
            if i == steps - 1:
                float(stats.d_loss)  # waits for the last step
        sync(device)
        return time.perf_counter() - t0

    t_first = run(1)
    run(max(warmup - 1, 0))
    return run, t_first


def _conv_backward_flop(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
                        _output_padding, _groups, output_mask, out_shape=None, **kwargs) -> int:
    """The backward of a convolution: the input's gradient (a transposed conv of the output's
    gradient) plus the weight's gradient, which multiplies each input channel with the output
    channels of its own group only - as many multiplications as the forward conv. (torch's own
    formula counts the weight's gradient as if ``groups`` were 1: ``groups`` times too many, which
    for StyleGAN2's grouped modulated conv - one group per image - is batch-size times.)"""
    flops = 0
    if output_mask[0]:
        flops += conv_flop_count(grad_out_shape, w_shape, out_shape[0], not transposed)
    if output_mask[1]:
        flops += conv_flop_count(x_shape, w_shape, grad_out_shape, transposed)
    return flops


class FlopCounter(TorchDispatchMode):
    """FLOPs of the matmuls and convolutions run inside it, forward and backward (2 per multiply-add),
    by torch's formulas (``torch.utils.flop_counter``), except a grouped convolution's backward
    (:func:`_conv_backward_flop`); ungrouped ones count as in torch.

    It is torch's ``FlopCounterMode`` without its per-module attribution, whose hooks reject two
    things a StyleGAN2 step does: ``autograd.grad`` with respect to a leaf input (R1), and a module
    input made without grad from a parameter (the synthesis network's constant, when sampling)."""

    def __init__(self):
        super().__init__()
        self.registry = {**flop_registry, torch.ops.aten.convolution_backward: shape_wrapper(_conv_backward_flop)}
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = self.registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out

    def get_total_flops(self) -> int:
        return self.total


def flop_counter() -> FlopCounter:
    """A :class:`FlopCounter` to use as a context manager."""
    return FlopCounter()


MAX_FLOP_CYCLE = 64  # steps: a longer regularisation cycle is counted over its first 64 steps


def regularisation_cycle(tr: GANTrainer) -> int:
    """Steps after which the lazy regularisers' pattern repeats: the least common multiple of their
    intervals (StyleGAN2: R1 every 16, path length every 4 -> 16); 1 when every step is alike."""
    cycle = 1
    for reg in tr.regularisers:
        cycle = math.lcm(cycle, max(1, int(reg.interval)))
    return min(cycle, MAX_FLOP_CYCLE)


def step_flops(cfg: RunConfig, size: int, device: torch.device) -> int:
    """FLOPs of one ganforge fp32 training step (forward and backward of G and D), the mean over
    one regularisation cycle (:func:`regularisation_cycle`), so a lazy R1 or path-length step counts
    at its share."""
    cfg = RunConfig.from_dict(cfg.to_dict())
    set_field(cfg, "train.precision", "fp32")
    torch.manual_seed(0)
    tr = build_trainer(cfg, img_channels(cfg), size, device)
    images = fake_dataset(cfg.train.batch_size, size, device, img_channels(cfg))
    cycle = regularisation_cycle(tr)
    with flop_counter() as fc:
        for _ in range(cycle):
            tr.train_step(images)
    return round(fc.get_total_flops() / cycle)


def conv_peak(device: torch.device, dtype: torch.dtype, batch: int = 64) -> float:
    """FLOP/s of a large, well-shaped conv (256 -> 256 channels, 3x3, 28x28), forward only: about
    the best this machine does on convolutions, and so a ceiling for a training step."""
    x = torch.randn(batch, 256, 28, 28, device=device, dtype=dtype)
    w = torch.randn(256, 256, 3, 3, device=device, dtype=dtype)
    flops = 2 * batch * 256 * 256 * 9 * 28 * 28
    best = float("inf")
    with torch.no_grad():
        for i in range(6):
            sync(device)
            t = time.perf_counter()
            torch.nn.functional.conv2d(x, w, padding=1)
            sync(device)
            if i >= 2:
                best = min(best, time.perf_counter() - t)
    return flops / best


def bench_preset(preset: str, size: int | None, a, device: torch.device) -> list[dict]:
    cfg, size = preset_config(preset, a.batch_size, size, getattr(a, "set", ()))
    b = cfg.train.batch_size
    # the bf16 row wherever bf16 runs natively, fast or not (the default uses it only where it is
    # faster), and with --bf16 also where it is emulated
    native_bf16 = bf16_supported(device) or (device.type == "cpu" and cpu_has_bf16())
    bf16 = native_bf16 or getattr(a, "bf16", False)
    seed_step = cfg.train.step
    other_step = "alternating" if seed_step == "joint" else "joint"
    G, D = build_models(cfg.model, img_channels(cfg), size)
    has_dropout = any(isinstance(m, nn.Dropout) and m.p > 0 for m in D.modules())
    has_mirror = use_mirrored_padding(G) + use_mirrored_padding(D) > 0
    off = {"precision": "fp32", "channels_last": False, "fast_dropout": False, "reuse_fake": False,
           "mirror_padding": False}
    modes: list[tuple[str, dict]] = [
        ("ganforge fp32", off),
        *([("+ bf16 autocast" + ("" if native_bf16 else " (emulated)"), {**off, "precision": "bf16"})]
          if bf16 else []),
        ("+ channels-last", {**off, "channels_last": True}),
        *([("+ fast dropout", {**off, "fast_dropout": True})] if has_dropout and device.type == "cpu" else []),
        *([("+ mirrored padding", {**off, "mirror_padding": True})] if has_mirror else []),
        (f"step {other_step} (preset: {seed_step})", {**off, "step": other_step}),
        *([("+ reuse fakes in the G phase", {**off, "reuse_fake": True})] if seed_step == "alternating" else []),
        ("- multi-tensor optimizers", {**off, "foreach": False}),
    ]
    if a.compile:
        modes.append(("+ torch.compile", {**off, "compile": True}))
    modes.append(("ganforge default", {}))

    runners = [("naive eager fp32", naive_eager(cfg, size, device, a.warmup), None)]
    for name, ov in modes:
        run, first = ganforge_step(cfg, size, device, a.warmup, **ov)
        runners.append((name, run, round(first, 1) if ov.get("compile") else None))
    times: dict[str, list[float]] = {name: [] for name, _, _ in runners}
    for _ in range(a.repeats):
        for name, run, _ in runners:
            times[name].append(run(a.steps))
    rows = []
    for name, _, compile_s in runners:
        row = {"mode": name, "seconds": statistics.median(times[name]), "all_seconds": [round(t, 3) for t in times[name]]}
        if compile_s is not None:
            row["compile_s"] = compile_s
        rows.append(row)
    flops = step_flops(cfg, size, device)
    base = a.steps * b / rows[0]["seconds"]
    for r in rows:
        r["img_per_s"] = round(a.steps * b / r["seconds"], 1)
        r["vs_naive"] = round(r["img_per_s"] / base, 2)
        r["tflops"] = round(flops * a.steps / r["seconds"] / 1e12, 3)
        r["seconds"] = round(r["seconds"], 3)
    overrides = list(getattr(a, "set", ()))
    header = f"{preset}{' ' + ' '.join(overrides) if overrides else ''} {size}x{size}x{img_channels(cfg)}, batch {b}, " \
             f"median of {a.repeats} rounds of {a.steps} " \
             f"timed steps " \
             f"(modes take turns) after {a.warmup} warm-up, {flops / 1e9:.1f} GFLOP/step"
    print(header)
    print(f"  {'mode':<38} {'img/s':>9} {'vs naive':>9} {'TFLOP/s':>8}")
    for r in rows:
        extra = f"  (compile {r['compile_s']} s)" if "compile_s" in r else ""
        print(f"  {r['mode']:<38} {r['img_per_s']:>9.1f} {r['vs_naive']:>8.2f}x {r['tflops']:>8.3f}{extra}")
    # the ceiling: this step's FLOPs at the best conv rate measured here, in each native precision
    peaks = {"fp32": conv_peak(device, torch.float32)}
    if native_bf16:  # (an emulated bf16 conv is no ceiling of anything)
        peaks["bf16"] = conv_peak(device, torch.bfloat16)
    ceiling = {k: round(v / flops * b / base, 2) for k, v in peaks.items()}
    print("  ceiling: " + "; ".join(
        f"{k} convs at {v / 1e12:.3f} TFLOP/s would give {v / flops * b:.0f} img/s = {ceiling[k]:.2f}x naive"
        for k, v in peaks.items()))
    for r in rows:
        r.update(preset=preset, overrides=overrides, size=size, batch_size=b, steps=a.steps, repeats=a.repeats,
                 gflop_per_step=round(flops / 1e9, 2),
                 conv_peak_tflops={k: round(v / 1e12, 3) for k, v in peaks.items()})
    rows.append(generate_and_score(cfg, size, device, a.eval_n))
    return rows


# --------------------------------------------------------------------------- generation and scoring
def feature_network(cfg: RunConfig, channels: int):
    """The cached evaluator of the preset's dataset, else an untrained network of the same shape."""
    try:
        return load_evaluator(cfg.data.source), "trained"
    except EvaluatorError:
        torch.manual_seed(0)
        meta = {"dataset": cfg.data.source, "channels": channels, "size": 28, "num_classes": 10,
                "mean": 0.5, "std": 0.5}
        return classifier_extractor(ClassifierNet(in_channels=channels), meta, "untrained"), "untrained"


def generate_and_score(cfg: RunConfig, size: int, device: torch.device, n: int) -> dict:
    """Seconds to generate ``n`` images with the preset's G (default precision) and to score them
    (features, then FD, KID and precision/recall against ``n`` reference rows)."""
    torch.manual_seed(0)
    tr = build_trainer(RunConfig.from_dict(cfg.to_dict()), img_channels(cfg), size, device)
    extractor, which = feature_network(cfg, img_channels(cfg))
    # the reference: untimed (cached in use)
    real_feats, _ = extractor(fake_dataset(n, size, torch.device("cpu"), img_channels(cfg)))
    mu_r, sigma_r = feature_statistics(real_feats)
    real_radii = knn_radii(real_feats, 3)
    row: dict = {"mode": f"generate + score {n:,} images", "n": n, "features": f"{extractor.name} ({which})"}
    t0 = time.perf_counter()
    images = tr.sample_images(n)
    sync(device)
    row["sampling_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    feats, _ = extractor(images)
    row["features_s"] = time.perf_counter() - t
    t = time.perf_counter()
    frechet_distance(*feature_statistics(feats), mu_r, sigma_r)
    kernel_inception_distance(real_feats, feats, subset_size=min(1000, n))
    precision_recall(real_feats, feats, real_radii=real_radii)
    row["metrics_s"] = time.perf_counter() - t
    row["seconds"] = time.perf_counter() - t0
    row = {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}
    print(f"  generate + score {n:,} images: {row['seconds']:.1f} s (sampling {row['sampling_s']:.1f}, "
          f"features {row['features_s']:.1f} [{row['features']}], FD+KID+precision/recall {row['metrics_s']:.1f})")
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tf-tutorial")
    p.add_argument("--size", type=int, default=None,
                   help="image size for configurable archs (dcgan: 28, 32, 64); default: the preset's, else the "
                        "architecture's native size")
    p.add_argument("--all", action="store_true", help="tf-tutorial, dcgan at 32 px and dcgan at 64 px")
    p.add_argument("--stylegan", action="store_true",
                   help="stylegan2 (32 px) and stylegan2-64 (64 px RGB), with the bf16 row (as --bf16)")
    p.add_argument("--bf16", action="store_true",
                   help="add the bf16 autocast row even where bf16 is not native here (emulated: slow)")
    p.add_argument("--steps", type=int, default=8, help="timed steps per mode")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3, help="rounds; each mode's figure is its median")
    p.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override a config field of every preset timed (e.g. model.channel_base=512)")
    p.add_argument("--no-compile", dest="compile", action="store_false", help="skip the torch.compile row")
    p.add_argument("--device", default="auto")
    p.add_argument("--eval-n", type=int, default=10_000, help="images generated and scored in the last timing")
    p.add_argument("--smoke", action="store_true", help="1 warm-up + 1 timed step, batch 8, no compile, no file")
    a = p.parse_args(argv)
    if a.smoke:
        a.steps, a.warmup, a.repeats, a.batch_size, a.compile, a.eval_n = 1, 1, 1, a.batch_size or 8, False, 100
    device = resolve_device(a.device)
    info = machine_info(device)
    print(f"{info['cpu']}, {info['threads']} threads, torch {info['torch']}, device {device}")
    a.bf16 = a.bf16 or a.stylegan
    jobs = [("tf-tutorial", None), ("dcgan", 32), ("dcgan", 64)] if a.all else \
        [("stylegan2", None), ("stylegan2-64", None)] if a.stylegan else [(a.preset, a.size)]
    rows = [r for preset, size in jobs for r in bench_preset(preset, size, a, device)]
    if not a.smoke:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(json.dumps({"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                "machine": info, "rows": rows}) + "\n")
        print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
