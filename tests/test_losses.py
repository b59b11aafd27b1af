import math

import torch

from ganforge.losses import d_loss_bce, d_targets, g_loss_minimax, g_loss_nonsaturating


def test_bce_matches_hand_computed_value():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    sig = lambda v: 1 / (1 + math.exp(-v))
    want = (-(math.log(sig(2.0)) + math.log(sig(0.0))) / 2
            - (math.log(1 - sig(-1.0)) + math.log(1 - sig(1.0))) / 2)
    assert abs(d_loss_bce(real, fake).item() - want) < 1e-6


def test_generator_losses_by_hand():
    fake = torch.tensor([0.5, -2.0])
    sig = lambda v: 1 / (1 + math.exp(-v))
    ns = -(math.log(sig(0.5)) + math.log(sig(-2.0))) / 2
    mm = (math.log(1 - sig(0.5)) + math.log(1 - sig(-2.0))) / 2
    assert abs(g_loss_nonsaturating(fake).item() - ns) < 1e-6
    assert abs(g_loss_minimax(fake).item() - mm) < 1e-6


def test_minimax_gradient_vanishes_where_nonsaturating_does_not():
    # D confidently rejects the fake: log(1 - D) is flat there, -log D is steep (why NS exists).
    x = torch.tensor([-8.0], requires_grad=True)
    g_loss_minimax(x).backward()
    g_mm = x.grad.abs().item()
    x.grad = None
    g_loss_nonsaturating(x).backward()
    assert g_mm < 1e-3 < x.grad.abs().item()


def test_targets_smoothing_and_noise_move_toward_other_class():
    torch.manual_seed(0)
    real = d_targets(1000, True, smoothing=0.1, noise=0.05)
    fake = d_targets(1000, False, noise=0.05)
    assert 0.85 <= real.min() and real.max() <= 0.9
    assert 0.0 <= fake.min() and fake.max() < 0.05 and fake.std() > 0.01
