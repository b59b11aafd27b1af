"""--clock: what --minutes counts - elapsed time, or the training process's CPU time."""
from __future__ import annotations

import time

import pytest

from ganforge import api
from ganforge.config import validate
from ganforge.errors import ConfigError
from ganforge.runs.monitor import read_log
from test_loop import small_cfg


def test_a_cpu_budget_ends_on_the_process_cpu_time(tmp_path, npz_data, monkeypatch):
    # The process's CPU time races ahead (a "second" per call): a 1-minute budget ends the run
    # long before its 200 steps, although hardly any wall time passed.
    import ganforge.train.loop as loop

    fast = iter(range(0, 1_000_000))
    monkeypatch.setattr(loop.time, "process_time", lambda: float(next(fast)))
    cfg = small_cfg(npz_data, **{"train.steps": 200, "train.minutes": 1.0, "train.clock": "cpu",
                                 "train.eval_minutes": 0, "train.log_every": 1})
    res = api.train(cfg, tmp_path / "run", progress=False, log=lambda *_: None)
    assert 0 < res.steps < 60
    assert max(r["step"] for r in read_log(tmp_path / "run") if "step" in r) == res.steps


def test_a_wall_budget_ignores_cpu_time(tmp_path, npz_data, monkeypatch):
    import ganforge.train.loop as loop

    fast = iter(range(0, 1_000_000, 30))
    monkeypatch.setattr(loop.time, "process_time", lambda: float(next(fast)))
    cfg = small_cfg(npz_data, **{"train.steps": 12, "train.minutes": 1.0, "train.eval_minutes": 0})
    assert cfg.train.clock == "wall"
    assert api.train(cfg, tmp_path / "run", progress=False, log=lambda *_: None).steps == 12


def test_a_cpu_budget_is_not_cut_short_by_wall_time(tmp_path, npz_data, monkeypatch):
    # Elapsed time races (as on a busy machine) but the process's CPU time does not: --clock cpu trains on.
    import ganforge.train.loop as loop

    fast = iter(range(0, 1_000_000, 30))
    start = time.monotonic()
    monkeypatch.setattr(loop.time, "monotonic", lambda: start + float(next(fast)))
    monkeypatch.setattr(loop.time, "process_time", lambda: 0.0)
    cfg = small_cfg(npz_data, **{"train.steps": 12, "train.minutes": 1.0, "train.clock": "cpu",
                                 "train.eval_minutes": 0})
    assert api.train(cfg, tmp_path / "run", progress=False, log=lambda *_: None).steps == 12


def test_an_unknown_clock_names_the_flag(npz_data):
    cfg = small_cfg(npz_data, **{"train.clock": "sundial"})
    with pytest.raises(ConfigError, match="--clock"):
        validate(cfg)
