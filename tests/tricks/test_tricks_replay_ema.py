"""Experience replay, instance noise and the generator EMA."""
import copy

import pytest
import torch
from torch import nn

from ganforge.train.tricks import ReplayBuffer, add_instance_noise, ema_beta, instance_noise_std, update_ema


def batch(*values):
    """Images (N, 1, 2, 2), image i filled with values[i]: each row says where it came from."""
    return torch.tensor(values, dtype=torch.float32).reshape(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()


def held(buf):
    return sorted(buf.images[: len(buf), 0, 0, 0].tolist())


def test_replay_keeps_capacity_and_drops_the_oldest_first():
    buf = ReplayBuffer(5, (1, 2, 2))
    buf.add(batch(0, 1, 2))
    assert len(buf) == 3 and held(buf) == [0, 1, 2]
    buf.add(batch(3, 4, 5))
    assert len(buf) == 5 and held(buf) == [1, 2, 3, 4, 5]
    buf.add(batch(6))
    assert held(buf) == [2, 3, 4, 5, 6]
    buf.add(batch(*range(10, 18)))  # more than the capacity at once: the newest survive
    assert held(buf) == [13, 14, 15, 16, 17]
    with pytest.raises(ValueError, match="shape"):
        buf.add(torch.zeros(2, 1, 3, 3))


def test_replay_mixes_at_the_asked_ratio():
    torch.manual_seed(0)
    buf = ReplayBuffer(20, (1, 2, 2))
    fresh = batch(*[-1] * 8)
    buf.add(batch(*range(4)))
    assert torch.equal(buf.mix(fresh, 0.5), fresh)  # fewer stored images than a batch: fresh only
    buf.add(batch(*range(4, 20)))
    for ratio, k in [(0.5, 4), (0.25, 2), (0.3, 2), (1.0, 8), (0.0, 0)]:
        out = buf.mix(fresh, ratio)
        vals = out[:, 0, 0, 0]
        assert out.shape == fresh.shape and int((vals >= 0).sum()) == k, ratio
        assert len(set(vals[vals >= 0].tolist())) == k  # distinct stored images
    assert not buf.mix(fresh.requires_grad_(), 0.5).requires_grad
    assert not ReplayBuffer(20, (1, 2, 2)).mix(fresh, 0.5).requires_grad


def test_replay_state_round_trip_repeats_the_same_draws():
    buf = ReplayBuffer(6, (1, 2, 2))
    buf.add(batch(*range(8)))
    state = buf.state_dict()
    other = ReplayBuffer(6, (1, 2, 2))
    other.load_state_dict(state)
    torch.manual_seed(1)
    a = buf.mix(batch(*[-1] * 4), 0.5)
    torch.manual_seed(1)
    b = other.mix(batch(*[-1] * 4), 0.5)
    assert torch.equal(a, b)
    buf.add(batch(100))
    other.add(batch(100))
    assert held(buf) == held(other) == [3, 4, 5, 6, 7, 100]
    with pytest.raises(ValueError, match="holds"):
        ReplayBuffer(7, (1, 2, 2)).load_state_dict(state)


def test_instance_noise_anneals_linearly_to_zero():
    assert instance_noise_std(0, 0.2, 100) == 0.2
    assert instance_noise_std(50, 0.2, 100) == pytest.approx(0.1)
    assert instance_noise_std(100, 0.2, 100) == 0.0 == instance_noise_std(500, 0.2, 100)
    x = torch.zeros(2000, 1, 4, 4)
    assert add_instance_noise(x, 0.0) is x
    torch.manual_seed(0)
    assert add_instance_noise(x, 0.1).std().item() == pytest.approx(0.1, rel=0.05)


def test_ema_lerps_parameters_and_copies_buffers():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    G_ema = copy.deepcopy(G)
    before = G_ema[0].weight.clone()
    with torch.no_grad():
        G[0].weight.add_(1.0)
    G(torch.randn(8, 3))  # moves BatchNorm's running statistics
    update_ema(G_ema, G, 0.9)
    torch.testing.assert_close(G_ema[0].weight, 0.9 * before + 0.1 * G[0].weight)
    assert torch.equal(G_ema[1].running_mean, G[1].running_mean)


def test_ema_beta_has_the_asked_half_life_in_images():
    beta = ema_beta(64, 10.0)
    assert beta ** (10_000 / 64) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        ema_beta(64, 0.0)


def test_ema_rampup_caps_the_half_life_by_the_images_seen():
    # nothing seen yet: G_ema takes G's weights
    assert ema_beta(64, 10.0, images_seen=0, rampup=0.05) == 0.0
    # 6,400 images seen: the half-life is 5% of them (320 images), not 10,000
    beta = ema_beta(64, 10.0, images_seen=6_400, rampup=0.05)
    assert beta ** (320 / 64) == pytest.approx(0.5)
    # from 200,000 images on, the full half-life
    assert ema_beta(64, 10.0, images_seen=200_000, rampup=0.05) == ema_beta(64, 10.0)
    assert ema_beta(64, 10.0, images_seen=10**7, rampup=0.05) == ema_beta(64, 10.0)
    # off: the images seen do not matter
    assert ema_beta(64, 10.0, images_seen=64, rampup=0.0) == ema_beta(64, 10.0)
