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
