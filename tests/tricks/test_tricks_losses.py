"""Every --loss against values worked by hand on tiny tensors, and the LOSSES registry."""
import math

import pytest
import torch

from ganforge.losses import (
    LOSSES,
    LossSpec,
    d_loss_hinge,
    d_loss_lsgan,
    d_loss_ragan,
    d_loss_wgan,
    g_loss_hinge,
    g_loss_lsgan,
    g_loss_nonsaturating,
    g_loss_ragan,
    g_loss_wgan,
    register_loss,
)


def softplus(v):
    return math.log1p(math.exp(v))


def close(t, want):
    return abs(t.item() - want) < 1e-6


def test_wgan_by_hand():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 2.0])
    assert close(d_loss_wgan(real, fake), 0.5 - 2.0)  # mean(fake) - mean(real)
    assert close(g_loss_wgan(fake), -0.5)


def test_hinge_by_hand():
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([-2.0, 0.5])
    # relu(1 - 0.5) = 0.5, relu(1 - 2) = 0 -> 0.25; relu(1 - 2) = 0, relu(1 + 0.5) = 1.5 -> 0.75
    assert close(d_loss_hinge(real, fake), 1.0)
    assert close(g_loss_hinge(fake), 0.75)


def test_hinge_ignores_logits_beyond_the_margin():
    real = torch.tensor([3.0], requires_grad=True)
    fake = torch.tensor([-4.0], requires_grad=True)
    d_loss_hinge(real, fake).backward()
    assert real.grad.item() == 0 and fake.grad.item() == 0


def test_least_squares_by_hand():
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    # 0.5 * mean((1-1)^2, (0-1)^2) + 0.5 * mean(0^2, 2^2) = 0.25 + 1.0
    assert close(d_loss_lsgan(real, fake), 1.25)
    assert close(g_loss_lsgan(fake), 0.5 * (1.0 + 1.0) / 2)
    # targets move b (and a): real target 0.9 -> 0.5 * mean(0.1^2, 0.9^2)
    assert close(d_loss_lsgan(real, fake, 0.9, 0.0), 0.5 * (0.01 + 0.81) / 2 + 1.0)


def test_relativistic_average_by_hand():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([1.0, -1.0])  # mean(real) = 1, mean(fake) = 0
    # D: BCE(real - 0, 1) + BCE(fake - 1, 0); BCE(l, 1) = softplus(-l), BCE(l, 0) = softplus(l)
    d_want = (softplus(-2.0) + softplus(0.0)) / 2 + (softplus(0.0) + softplus(-2.0)) / 2
    g_want = (softplus(-0.0) + softplus(2.0)) / 2 + (softplus(2.0) + softplus(0.0)) / 2
    assert close(d_loss_ragan(real, fake), d_want)
    assert close(g_loss_ragan(fake, real), g_want)


def test_ragan_generator_gradient_reaches_fakes_through_both_terms():
    real = torch.tensor([2.0, 0.0])
    fake = torch.tensor([1.0, -1.0], requires_grad=True)
    g_loss_ragan(fake, real).backward()
    assert (fake.grad < 0).all()  # raising every fake logit lowers G's loss


def test_every_registered_loss_has_a_uniform_signature():
    real = torch.tensor([0.3, -0.2, 1.5], dtype=torch.bfloat16)
    fake = torch.tensor([-0.7, 0.1, 0.4], dtype=torch.bfloat16)
    for name, spec in LOSSES.items():
        assert spec.name == name
        d = spec.d_loss(real, fake, torch.full((3,), 0.9), torch.full((3,), 0.05))
        g = spec.g_loss(fake, real) if spec.g_needs_real else spec.g_loss(fake)
        for v in (d, g):
            assert v.dim() == 0 and v.dtype == torch.float32 and torch.isfinite(v), name
    assert close(LOSSES["wgan"].d_loss(real, fake), LOSSES["wgan-gp"].d_loss(real, fake).item())
    assert [n for n, s in LOSSES.items() if s.g_needs_real] == ["ragan"]
    assert {n for n, s in LOSSES.items() if s.bounded_logits} == {"nonsaturating", "minimax"}
    assert {n for n, s in LOSSES.items() if not s.uses_targets} == {"wgan", "wgan-gp", "hinge"}


def test_registry_losses_without_labels_ignore_targets():
    real, fake = torch.tensor([0.3, -0.2]), torch.tensor([-0.7, 0.1])
    for name in ("wgan", "hinge"):
        spec = LOSSES[name]
        assert spec.d_loss(real, fake).item() == spec.d_loss(real, fake, 0.8, 0.2).item()
    spec = LOSSES["nonsaturating"]
    assert spec.d_loss(real, fake).item() != spec.d_loss(real, fake, 0.8, 0.2).item()


def test_registry_wraps_the_functions_and_names_register_once():
    fake = torch.tensor([0.5, -2.0])
    assert LOSSES["nonsaturating"].g_loss(fake, None).item() == g_loss_nonsaturating(fake).item()
    with pytest.raises(ValueError, match="twice"):
        register_loss(LossSpec("hinge", d_loss_hinge, g_loss_hinge))
