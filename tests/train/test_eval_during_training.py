"""--eval-every: metrics in log.jsonl and best.pt kept by FD.

The evaluator here is a random-weight network saved in a temp cache: it checks the plumbing,
not image quality."""
from __future__ import annotations

import math

import torch

from ganforge import api
from ganforge.metrics.networks import evaluator_path, random_evaluator, save_evaluator
from ganforge.checkpoint import load_checkpoint
from ganforge.runs.monitor import read_log
from test_loop import small_cfg


def test_eval_every_logs_metrics_and_keeps_best(tmp_path, npz_data, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    net, meta = random_evaluator("fashion-mnist")
    save_evaluator(net, meta, evaluator_path("fashion-mnist"))
    cfg = small_cfg(npz_data, **{"train.steps": 4, "train.eval_every": 2, "train.eval_n": 32})
    api.train(cfg, tmp_path / "run", progress=False, log=lambda *_: None)
    evals = [r for r in read_log(tmp_path / "run") if r.get("event") == "eval"]
    assert [r["step"] for r in evals] == [2, 4]
    assert all(math.isfinite(r["fd"]) and "protocol" in r for r in evals)
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    best_eval = min(evals, key=lambda r: r["fd"])
    assert best["best_fd"] == best_eval["fd"] and best["step"] == best_eval["step"]


class ScriptedEvaluator:
    """Stands in for the metrics evaluator: FD values given in advance, so that the best one is
    neither the first nor the last (a real evaluator's FD here just falls as G trains)."""

    protocol = {"feature_network": "scripted"}

    def __init__(self, fds):
        self.fds = list(fds)

    def __call__(self, sampler):
        images = sampler(4)
        assert images.dtype == torch.uint8 and images.shape == (4, 1, 28, 28)
        return {"fd": self.fds.pop(0)}


def test_best_pt_keeps_the_lowest_fd_not_the_latest(tmp_path, npz_data, monkeypatch):
    monkeypatch.setattr(api, "training_evaluator", lambda cfg, log=print: ScriptedEvaluator([3.0, 1.0, 2.0]))
    cfg = small_cfg(npz_data, **{"train.steps": 3, "train.eval_every": 1, "train.eval_n": 16})
    api.train(cfg, tmp_path / "run", progress=False, log=lambda *_: None)
    assert [(r["step"], r["fd"]) for r in read_log(tmp_path / "run") if r.get("event") == "eval"] == [
        (1, 3.0), (2, 1.0), (3, 2.0)]
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert best["step"] == 2 and best["best_fd"] == 1.0
    assert load_checkpoint(tmp_path / "run")["step"] == 3


def test_eval_every_without_an_evaluator_says_why_and_trains_on(tmp_path, npz_data, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "empty-cache"))
    notes = []
    # RGB data: no Inception weights and no cifar10 evaluator in an empty cache
    cfg = small_cfg(npz_data, **{"train.steps": 2, "train.eval_every": 1, "train.eval_n": 16,
                                 "data.channels": 3, "data.size": 32})
    res = api.train(cfg, tmp_path / "run", progress=False, log=notes.append)
    assert res.steps == 2 and not (tmp_path / "run" / "best.pt").exists()
    assert any("ganforge evaluator train --data cifar10" in n for n in notes)


def test_timed_evaluations_happen_at_log_points_and_at_the_end(tmp_path, npz_data, monkeypatch):
    # --eval-minutes: due once the interval has passed, checked at log points (every 2 steps here);
    # a run that evaluated also evaluates its last step.
    clock = iter(range(0, 10_000, 7))  # each monotonic() call is 7 "seconds" later
    import ganforge.train.evaluation as evaluation

    monkeypatch.setattr(evaluation.time, "monotonic", lambda: float(next(clock)))
    monkeypatch.setattr(api, "training_evaluator", lambda cfg, log=print: ScriptedEvaluator([5.0] * 10))
    cfg = small_cfg(npz_data, **{"train.steps": 5, "train.log_every": 2, "train.eval_minutes": 0.1,
                                 "train.eval_every": 0})
    api.train(cfg, tmp_path / "run", progress=False, log=lambda *_: None)
    steps = [r["step"] for r in read_log(tmp_path / "run") if r.get("event") == "eval"]
    # log points at steps 2, 4 and 5 (the last); the 6-second interval has passed at each
    assert steps == [2, 4, 5]


def test_timed_evaluation_is_off_for_data_without_its_own_evaluator(npz_data):
    cfg = small_cfg(npz_data)
    assert cfg.train.eval_minutes > 0 and not cfg.train.eval_every
    assert api.training_evaluator(cfg) is None  # an .npz file: no evaluator fits it
    from ganforge.metrics import LazyTrainingEvaluator

    cfg.data.source = "fashion-mnist"
    ev = api.training_evaluator(cfg)
    assert isinstance(ev, LazyTrainingEvaluator) and ev.evaluator is None  # built at the first call only


def test_every_process_takes_the_same_collective_decisions_with_or_without_an_evaluator(tmp_path, npz_data):
    # Only the main process evaluates, but the timed schedule's decisions are collective: the main
    # process (with an evaluator) and another (without) must agree the same number of times, or a
    # multi-process run would pair mismatched collectives.
    import torch

    from ganforge.context import RunContext

    counts = []
    for rank, evaluator in ((0, ScriptedEvaluator([5.0] * 10)), (1, None)):
        calls = []
        ctx = RunContext(device=torch.device("cpu"), rank=rank, world_size=2,
                         any_fn=lambda flag, calls=calls: calls.append(flag) or flag)
        cfg = small_cfg(npz_data, **{"train.steps": 4, "train.log_every": 2, "train.eval_minutes": 5.0})
        api.fit(cfg, tmp_path / f"r{rank}", ctx=ctx, evaluator=evaluator, progress=False, log=lambda *_: None)
        counts.append(len(calls))
    assert counts[0] == counts[1]
