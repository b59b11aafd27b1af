"""Gradient penalty, R1, weight clipping and spectral normalisation on discriminators whose
answers are known in closed form."""
import pytest
import torch
from torch import nn

from ganforge.config import ModelConfig
from ganforge.models import build_models, count_params
from ganforge.regularisers import apply_spectral_norm, clip_weights_, gradient_penalty, r1_penalty


def linear_D(w):
    """D(x) = <w, x>: its input gradient is w everywhere."""
    return lambda x: (x.flatten(1) * w.flatten()).sum(dim=1)


def test_gradient_penalty_of_a_linear_critic_is_exact():
    torch.manual_seed(0)
    w = torch.randn(1, 2, 3)
    real, fake = torch.randn(5, 1, 2, 3), torch.randn(5, 1, 2, 3)
    want = (w.norm() - 1) ** 2
    torch.testing.assert_close(gradient_penalty(linear_D(w), real, fake), want, atol=1e-6, rtol=1e-5)


def test_gradient_penalty_trains_the_critic():
    # create_graph=True: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    gp = gradient_penalty(lambda x: x.flatten(1) @ w, torch.randn(4, 1, 1, 2), torch.randn(4, 1, 1, 2))
    gp.backward()
    torch.testing.assert_close(gp.detach(), torch.tensor(16.0))
    torch.testing.assert_close(w.grad, 2 * 4.0 * torch.tensor([3.0, 4.0]) / 5.0)


def test_r1_of_a_linear_D_is_the_squared_slope_and_labels_reach_D():
    torch.manual_seed(0)
    w = torch.randn(3, 4, 4)
    seen = []

    def D(x, y):
        seen.append(y)
        return linear_D(w)(x)

    y = torch.tensor([0, 1])
    torch.testing.assert_close(r1_penalty(D, torch.randn(2, 3, 4, 4), y), w.pow(2).sum(), rtol=1e-5, atol=1e-6)
    assert seen[0] is y


def test_penalties_run_on_a_real_discriminator():
    torch.manual_seed(0)
    _, D = build_models(ModelConfig(arch="tf-tutorial"), 1, 28)
    real, fake = torch.rand(2, 1, 28, 28) * 2 - 1, torch.rand(2, 1, 28, 28) * 2 - 1
    loss = gradient_penalty(D, real, fake) + r1_penalty(D, real)
    loss.backward()
    assert torch.isfinite(loss) and D.net.conv1.weight.grad.abs().sum() > 0


def test_weight_clipping_bounds_every_parameter():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(10)
    clip_weights_(net, 0.01)
    assert all(p.abs().max() <= 0.01 for p in net.parameters())
    assert any((p.abs() == 0.01).any() for p in net.parameters())
    with pytest.raises(ValueError):
        clip_weights_(net, 0)


def top_singular_value(m):
    w = m.weight
    if isinstance(m, nn.ConvTranspose2d):  # (in, out, kh, kw): outputs are dim 1
        w = w.transpose(0, 1)
    return torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), 2).item()


def test_spectral_norm_brings_every_weight_to_unit_norm_but_not_the_embedding():
    torch.manual_seed(0)
    layers = [nn.Linear(20, 30), nn.Conv2d(3, 8, 3), nn.ConvTranspose2d(4, 6, 3)]
    net = nn.ModuleList(layers + [nn.Embedding(5, 7)])
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(5)
    emb = net[3].weight.clone()
    n_params = count_params(net)
    apply_spectral_norm(net)
    assert count_params(net) == n_params
    inputs = [torch.randn(2, 20), torch.randn(2, 3, 5, 5), torch.randn(2, 4, 5, 5)]
    for _ in range(10):  # power iterations run in train mode
        for m, x in zip(layers, inputs):
            m(x)
    for m in layers:
        assert abs(top_singular_value(m) - 1) < 0.05, m
    assert torch.equal(net[3].weight, emb)
    apply_spectral_norm(net)  # idempotent: already-parametrized weights are left alone
    assert len(net[0].parametrizations.weight) == 1


def test_build_models_applies_spectral_norm_to_D_only():
    torch.manual_seed(0)
    cfg = ModelConfig(arch="dcgan", d_channels=8, g_channels=8)
    G0, D0 = build_models(cfg, 1, 32)
    cfg.spectral_norm = True
    G, D = build_models(cfg, 1, 32)
    assert count_params(D) == count_params(D0) and count_params(G) == count_params(G0)
    assert not any(hasattr(m, "parametrizations") for m in G.modules())
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
    for _ in range(5):
        D(torch.randn(4, 1, 32, 32))
    assert all(abs(top_singular_value(m) - 1) < 0.05 for m in convs)
