"""Diagnostics: each rule fires on a crafted log, once per episode, and never on a healthy one."""
import math
import random

import pytest
import torch

from ganforge.train.diagnostics import Diagnostics, Finding, batch_diversity


def healthy(n, start=0, every=50, seed=0):
    """A log that looks like a GAN that is learning: balanced losses, D a little ahead, diverse samples."""
    rng = random.Random(seed)
    for i in range(n):
        rec = {"step": start + (i + 1) * every, "d_loss": rng.uniform(0.6, 1.3), "g_loss": rng.uniform(0.7, 2.0),
               "d_real": rng.uniform(0.6, 0.8), "d_fake": rng.uniform(0.3, 0.45)}
        if i % 5 == 0:
            rec |= {"fixed_diversity": rng.uniform(0.25, 0.32), "real_diversity": 0.3}
        yield rec


def d_wins(n, start):
    """D's loss sliding to ~0 while G's climbs (seed 001's picture)."""
    for i in range(n):
        yield {"step": start + (i + 1) * 50, "d_loss": max(0.01, 0.6 * 0.6 ** i), "g_loss": 1.0 + 0.6 * i,
               "d_real": 0.99, "d_fake": 0.01}


def feed(diag, records):
    return [f for r in records for f in diag.observe(r)]


def test_healthy_runs_never_fire():
    for seed in range(3):
        for loss in ("nonsaturating", "hinge", "wgan-gp"):
            assert feed(Diagnostics(loss=loss), healthy(300, seed=seed)) == []


def test_d_too_strong_fires_once_per_episode_with_the_seed_remedy():
    diag = Diagnostics()
    found = feed(diag, healthy(20))
    found += feed(diag, d_wins(30, start=1000))
    assert [f.kind for f in found] == ["d_too_strong"]
    f = found[0]
    assert isinstance(f, Finding) and f.remedy == {"lr_d_factor": 0.5, "d_dropout_add": 0.1}
    assert "learning rate" in f.suggestion and "dropout" in f.suggestion and "D's loss fell" in f.message
    assert f"step {f.step}:" in f.text()
    # recovered for a while, then the same trouble again: a new episode
    assert feed(diag, healthy(15, start=2500)) == []
    assert [f.kind for f in feed(diag, d_wins(30, start=4000))] == ["d_too_strong"]


def test_d_too_strong_is_off_for_wgan_and_allows_for_label_smoothing():
    assert feed(Diagnostics(loss="wgan"), d_wins(30, start=0)) == []
    # a 0.1-smoothed cross-entropy bottoms out at H(0.9) ~ 0.325, never near 0
    smoothed = [r | {"d_loss": r["d_loss"] + 0.325} for r in d_wins(30, start=0)]
    assert feed(Diagnostics(), smoothed) == []
    assert [f.kind for f in feed(Diagnostics(label_smoothing=0.1), smoothed)] == ["d_too_strong"]


def test_mode_collapse_fires_after_warmup_and_once():
    diag = Diagnostics(collapse_warmup_steps=500)
    recs = [{"step": s, "d_loss": 1.0, "g_loss": 1.0, "d_real": 0.7, "d_fake": 0.4, "fixed_diversity": 0.05,
             "real_diversity": 0.3} for s in range(100, 2000, 100)]
    found = feed(diag, recs)
    assert [(f.kind, f.step) for f in found] == [("mode_collapse", 600)]  # steps 500 and 600 below: patience 2
    assert found[0].remedy["replay_size"] > 0 and "replay" in found[0].suggestion
    # diversity recovers, then collapses again: fires again
    feed(diag, [r | {"step": 3000 + i, "fixed_diversity": 0.3} for i, r in enumerate(recs[:4])])
    assert [f.kind for f in feed(diag, [r | {"step": 4000 + i} for i, r in enumerate(recs[:3])])] == ["mode_collapse"]


def test_d_too_weak_only_for_a_long_stretch_from_the_start():
    weak = [{"step": (i + 1) * 50, "d_loss": 1.386, "g_loss": 0.693, "d_real": 0.51, "d_fake": 0.49}
            for i in range(40)]
    found = feed(Diagnostics(), weak)
    assert [(f.kind, f.step) for f in found] == [("d_too_weak", 1000)]
    assert found[0].remedy == {"lr_d_factor": 2.0}
    # a D that learnt first and sits near 0.5 later (the equilibrium) is fine
    diag = Diagnostics()
    feed(diag, healthy(5))
    assert feed(diag, [r | {"step": 1000 + r["step"]} for r in weak]) == []
    # critic scores are not probabilities: the rule is off
    assert feed(Diagnostics(loss="hinge"), weak) == []


def test_nan_asks_for_a_rollback_each_time_it_happens():
    diag = Diagnostics()
    feed(diag, healthy(12))
    found = diag.observe({"step": 700, "d_loss": float("nan"), "g_loss": 1.0, "d_real": 0.5, "d_fake": 0.5})
    assert [f.kind for f in found] == ["nan"] and found[0].remedy == {"rollback": True, "lr_factor": 0.5}
    assert "D loss" in found[0].message
    assert diag.observe({"step": 750, "d_loss": 1.0, "g_loss": math.inf}) == []  # same episode
    diag.reset()
    feed(diag, healthy(1, start=800))
    assert [f.kind for f in diag.observe({"step": 900, "d_loss": 1.0, "g_loss": math.inf})] == ["nan"]


def test_state_round_trip_continues_the_same_judgement():
    a = Diagnostics()
    feed(a, healthy(20))
    feed(a, d_wins(6, start=1000))
    b = Diagnostics()
    b.load_state_dict(a.state_dict())
    rest = list(d_wins(30, start=1000))[6:]
    assert [(f.kind, f.step) for f in feed(a, rest)] == [(f.kind, f.step) for f in feed(b, rest)] != []


def test_batch_diversity():
    black, white = torch.zeros(1, 1, 4, 4, dtype=torch.uint8), torch.full((1, 1, 4, 4), 255, dtype=torch.uint8)
    assert batch_diversity(torch.cat([black, black, black])) == 0.0
    assert batch_diversity(torch.cat([black, white])) == pytest.approx(1.0)
    # pairs (b, w), (b, b), (w, b)... three images, two white: distances 1, 1, 0 -> 2/3
    assert batch_diversity(torch.cat([black, white, white])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        batch_diversity(black)
