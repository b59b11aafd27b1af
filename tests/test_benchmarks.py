"""The benchmark scripts run (1-step smoke mode), so `make bench` cannot rot unnoticed."""
from __future__ import annotations

import importlib.util
from pathlib import Path

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


def test_progan_stages_smoke(capsys):
    narrow = ["--set", "model.g_channels=8", "--set", "model.d_channels=8", "--set", "train.precision=fp32"]
    assert load("progan_stages").main(["--seconds", "0", "--no-save", *narrow]) == 0
    out = capsys.readouterr().out
    for line in ("4x4 stable", "8x8 fade", "32x32 stable", "fully faded in after"):
        assert line in out, line
