"""Data order across processes, the shared latent stream, and what one process can check of a
multi-process run without starting others (see test_distributed.py for real process groups)."""
from __future__ import annotations

import pytest
import torch

from ganforge.config import set_field
from ganforge.errors import ConfigError
from ganforge.presets import get_preset
from ganforge.train.batches import EpochSampler
from ganforge.context import RunContext
from ganforge.train.distributed import SharedNoise, env_world, process_group, rank_seed
from ganforge.train.builder import build_trainer

CPU = torch.device("cpu")


@pytest.mark.parametrize("parts", [1, 2])
def test_each_process_gets_its_share_of_the_one_process_batch(parts):
    one = EpochSampler(100, 8 * parts, seed=3, device=CPU, parts=parts)
    ranks = [EpochSampler(100, 4 * parts, seed=3, device=CPU, rank=r, world_size=2, parts=parts) for r in range(2)]
    assert ranks[0].steps_per_epoch == one.steps_per_epoch
    for _ in range(one.steps_per_epoch + 2):  # into the second epoch
        whole = one.next_indices()
        mine = [s.next_indices() for s in ranks]
        # each D update's sub-batch of the global batch is split between the processes
        for k in range(parts):
            assert torch.equal(torch.cat([m.view(parts, -1)[k] for m in mine]), whole.view(parts, -1)[k])
    assert ranks[1].epoch == one.epoch == 1


def test_ahead_shows_the_coming_batches_without_moving_the_sampler():
    s = EpochSampler(20, 4, seed=0, device=CPU)
    s.next_indices()
    coming = s.ahead()
    peek = [next(coming) for _ in range(7)]
    assert s.pos == 1
    assert all(torch.equal(p, s.next_indices()) for p in peek)


def test_shared_noise_gives_each_process_its_slice_of_the_global_draw():
    state = torch.Generator().manual_seed(5).get_state()
    whole = torch.randn(6, 3, generator=torch.Generator().manual_seed(5))
    parts = [SharedNoise(state, r, 2).randn(3, 3, CPU) for r in range(2)]
    assert torch.equal(torch.cat(parts), whole)
    assert rank_seed(0, 0, 0) != rank_seed(0, 1, 0) and rank_seed(0, 1, 0) == rank_seed(0, 1, 0)


def test_torchrun_environment_is_read_and_checked(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    assert env_world()[:2] == (0, 1)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ConfigError, match="RANK=2 and WORLD_SIZE=2"):
        env_world()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ConfigError, match="RANK='x'"):
        env_world()


def test_sync_batchnorm_on_cpu_with_many_processes_is_refused_with_the_flag_named():
    cfg = get_preset("dcgan")
    set_field(cfg, "train.sync_batchnorm", True)
    ctx = RunContext(device=CPU, rank=0, world_size=2, any_fn=lambda f: f)
    with pytest.raises(ConfigError, match="--sync-batchnorm: needs CUDA"):
        build_trainer(cfg, 1, 28, ctx=ctx)


def test_a_checkpoint_position_carries_over_to_another_global_batch():
    cfg = get_preset("geron-dense")
    d = build_trainer(cfg, 1, 28, global_batch=32).dist
    s = EpochSampler(256, 32, seed=0, device=CPU)
    s.pos = 3
    d.load_state_dict({"global_batch": 64}, s)  # 3 batches of 64 = 6 of 32
    assert s.pos == 6 and d.state_dict() == {"world_size": 1, "global_batch": 32}


def test_many_processes_without_torchrun_s_rendezvous_are_told_to_use_torchrun(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(ConfigError, match="start the processes with torchrun"):
        with process_group("cpu"):
            pass
