"""The benchmark scripts run (1-step smoke mode), so `make bench` cannot rot unnoticed."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from gf_helpers import PATH_LENGTH_ON

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_throughput_smoke(capsys):
    assert load("throughput").main(["--smoke"]) == 0
    out = capsys.readouterr().out
    for mode in ("naive eager fp32", "ganforge fp32", "ganforge default", "channels-last"):
        assert mode in out
    assert "GFLOP/step" in out


def test_the_naive_loop_does_stylegan2s_lazy_r1_and_path_length(monkeypatch):
    """The naive baseline does the work ganforge's step does: over 16 steps of the stylegan2
    preset with path length on (stylegan2-64's; the preset itself has none), R1 once (every 16)
    and path length four times (every 4), each an autograd.grad call."""
    import torch

    from ganforge.config import set_field
    from ganforge.presets import get_preset

    bench = load("throughput")
    cfg = get_preset("stylegan2")
    bench.toy_widths(cfg)
    for k, v in {"model.z_dim": 16, "model.w_dim": 16, "train.batch_size": 4, **PATH_LENGTH_ON}.items():
        set_field(cfg, k, v)
    calls = []
    grad = torch.autograd.grad

    def counting(outputs, inputs, **kw):
        calls.append(tuple(inputs.shape))
        return grad(outputs, inputs, **kw)

    monkeypatch.setattr(torch.autograd, "grad", counting)
    bench.naive_eager(cfg, 32, torch.device("cpu"), warmup=16)
    r1 = [c for c in calls if len(c) == 4]  # gradients of images (N, C, H, W) and of ws (N, num_ws, w_dim)
    pl = [c for c in calls if len(c) == 3]
    assert r1 == [(4, 1, 32, 32)]
    assert len(pl) == 4 and all(c[0] == 2 and c[2] == 16 for c in pl), pl  # batch 4 / pl_batch_shrink 2


def test_device_check_smoke(tmp_path):
    """benchmarks/device_check.sh --smoke: every part of the GPU check at toy sizes on the CPU (a
    stand-in Fashion-MNIST, a 1-epoch evaluator), one JSON with every part and the table."""
    import json
    import os
    import subprocess
    import sys

    out = tmp_path / "check.json"
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(BENCH / "device_check.sh"), "--smoke", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    parts = json.loads(out.read_text())["parts"]
    for preset in ("tf-tutorial", "best-fmnist"):
        rows = {r["mode"]: r for r in parts[f"throughput {preset}"]["rows"]}
        for mode in ("naive eager fp32", "ganforge fp32 (every option off)", "ganforge default", "+ bf16 autocast",
                     "+ channels-last", "+ batch 32 (4x)"):
            assert rows[mode]["img_per_s"] > 0 and rows[mode]["tflops"] > 0, (preset, mode)
        assert rows["+ CUDA graphs"]["skipped"] == "needs CUDA"
    assert parts["train"]["exit_code"] == 0 and parts["train"]["steps"] == 3
    assert parts["evaluate"]["fd"] >= 0 and "fashion-mnist-cnn" in json.dumps(parts["evaluate"]["protocol"])
    assert parts["genscore"]["n"] == 200 and parts["genscore"]["seconds"] > 0
    assert "matmul_bf16_tflops" in parts["env"]
    assert "naive eager fp32" in proc.stdout and "MFU %" in proc.stdout and "best-fmnist training: 3 steps" in proc.stdout
    assert "stopped at its" not in proc.stdout and "failed" not in proc.stdout


def test_progan_stages_smoke(capsys, tmp_path):
    """Every stage of the progan preset, on a small set of its own (the script's default is the
    real Fashion-MNIST, which a test must not need)."""
    import numpy as np

    from gf_helpers import make_images

    np.save(tmp_path / "blobs.npy", make_images(64, size=32))
    narrow = ["--set", "model.channel_base=256", "--set", "model.channel_max=8", "--set", "train.precision=fp32",
              "--set", f"data.source={tmp_path / 'blobs.npy'}"]
    assert load("progan_stages").main(["--seconds", "0", "--no-save", *narrow]) == 0
    out = capsys.readouterr().out
    for line in ("4x4 stable", "8x8 fade", "32x32 stable", "fully faded in after"):
        assert line in out, line


def test_stylegan_speed_smoke(capsys):
    """benchmarks/stylegan_speed.py at toy sizes: the three tables, every impl and precision."""
    assert load("stylegan_speed").main(["--smoke"]) == 0
    out = capsys.readouterr().out
    for line in ("modulated conv, forward + backward", "modulated conv impl (G and G_ema)", "widths, impl scaled",
                 "grouped bf16", "scaled fp32", "bmm fp32", "8->8 3x3 up @16", "2->3 1x1 @64", "bf16, channels 8",
                 "mapping 1"):
        assert line in out, line


def test_stylegan_speed_layout_smoke(capsys):
    """The layout table at toy sizes: both presets, both precisions, NCHW and NHWC, and their ratio."""
    assert load("stylegan_speed").main(["--smoke", "--parts", "layout"]) == 0
    out = capsys.readouterr().out
    assert "memory layout: training step" in out
    for line in ("stylegan2, fp32", "stylegan2, bf16", "stylegan2-64, fp32", "stylegan2-64, bf16"):
        assert re.search(rf"^  {re.escape(line)} +[0-9.]+ +[0-9.]+ +[0-9.]+x$", out, re.M), line


def test_flop_counter_counts_each_modulated_conv_as_by_hand():
    """The FLOP counter of throughput.py on one modulated conv, forward + backward: the hand count
    of its three convolutions (output, input gradient, weight gradient) and of the demodulation's
    matmul, whichever the impl - the grouped one included, whose weight gradient torch's own
    formula counts once per group."""
    import torch

    from ganforge.models.stylegan2 import modulated_conv2d

    tp = load("throughput")
    n, c_in, c_out, k, r = 4, 8, 16, 3, 8
    hand = 3 * 2 * n * c_out * c_in * k * k * r * r
    demod = 3 * 2 * n * c_in * c_out  # every impl: (s^2) @ (sum_k w^2).T, forward and its two gradients
    for impl, expected in (("grouped", hand + demod), ("bmm", hand + demod), ("scaled", hand + demod)):
        x = torch.randn(n, c_in, r, r, requires_grad=True)
        w = torch.randn(c_out, c_in, k, k, requires_grad=True)
        s = torch.randn(n, c_in, requires_grad=True)
        with tp.flop_counter() as fc:
            modulated_conv2d(x, w, s, True, impl).sum().backward()
        assert fc.get_total_flops() == expected, impl


def test_flop_counter_agrees_with_torch_without_groups():
    """On a step without grouped convolutions the counter gives torch's FlopCounterMode's number, so
    the GFLOP/step of the presets measured before stays comparable."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ganforge.train.builder import build_trainer

    tp = load("throughput")
    cfg, size = tp.preset_config("tf-tutorial", 4, None)
    torch.manual_seed(0)
    tr = build_trainer(cfg, 1, size)
    images = tp.fake_dataset(4, size, torch.device("cpu"))
    with FlopCounterMode(display=False) as theirs:
        tr.train_step(images)
    with tp.flop_counter() as ours:
        tr.train_step(images)
    assert ours.get_total_flops() == theirs.get_total_flops() > 0
    assert tp.regularisation_cycle(tr) == 1


def test_throughput_uses_stylegan2_64_size_channels_and_cycle():
    """stylegan2-64 is timed at 64 px RGB, and its FLOPs are the mean over the 16-step cycle of
    lazy R1 (every 16) and path length (every 4): less than the first step, which runs both."""
    import torch

    from ganforge.config import set_field
    from ganforge.train.builder import build_trainer

    tp = load("throughput")
    cfg, size = tp.preset_config("stylegan2-64", 2, None)
    assert (size, tp.img_channels(cfg)) == (64, 3)
    tp.toy_widths(cfg)
    for f, v in (("model.w_dim", 8), ("model.z_dim", 8)):
        set_field(cfg, f, v)
    torch.manual_seed(0)
    tr = build_trainer(cfg, 3, size)
    assert tp.regularisation_cycle(tr) == 16
    with tp.flop_counter() as first:
        tr.train_step(tp.fake_dataset(2, size, torch.device("cpu"), 3))
    mean = tp.step_flops(cfg, size, torch.device("cpu"))
    assert 0 < mean < first.get_total_flops()


def test_device_check_throughput_part_runs_stylegan(tmp_path):
    """device_check.py's throughput part with a stylegan preset (--smoke): every CPU mode measured,
    CUDA-only modes skipped, and CUDA graphs refused by ganforge's own check (lazy R1)."""
    import json

    dc = load("device_check")
    out = tmp_path / "check.json"
    assert dc.main(["throughput", "--preset", "stylegan2-64", "--smoke", "--out", str(out), "--device", "cpu"]) == 0
    part = json.loads(out.read_text())["parts"]["throughput stylegan2-64"]
    assert part["size"] == 64 and part["gflop_per_step"] > 0
    rows = {r["mode"]: r for r in part["rows"]}
    for mode in ("naive eager fp32", "ganforge fp32 (every option off)", "ganforge default", "+ bf16 autocast",
                 "+ channels-last", "+ batch 32 (4x)"):
        assert rows[mode]["img_per_s"] > 0 and rows[mode]["tflops"] > 0, mode
    assert rows["+ CUDA graphs"]["skipped"] == "needs CUDA"


@pytest.mark.multiprocess
def test_faults_smoke_of_the_newest_cases(tmp_path):
    """The fault benchmark's cases that spawn the most (a streamed ProGAN killed and resumed, a
    killed DataLoader worker) still run with today's flags: they are in the multi-process step."""
    assert load("faults").main(["--only", "progan,worker", "--quick", "--no-save", "--workdir", str(tmp_path)]) == 0
