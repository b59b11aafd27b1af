"""The training-speed options compute what the plain step computes: fast dropout masks, the
joint step's separate D passes, and the alternating step's reuse of the D phase's fakes."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from ganforge.config import set_field, validate
from ganforge.errors import ConfigError
from ganforge.models.layers_fast import DROPOUT_BITS, FastDropout, bernoulli_keep_mask, use_fast_dropout
from ganforge.presets import get_preset
from ganforge.train.builder import build_trainer


def test_keep_mask_rate_and_lanes():
    torch.manual_seed(0)
    p = 0.3
    keep = bernoulli_keep_mask((4000, 250), p)  # 1e6 entries
    assert keep.dtype == torch.bool and keep.shape == (4000, 250)
    assert abs(keep.float().mean().item() - (1 - p)) < 3e-3
    # every 16-bit lane of the 64-bit words (including the top one, with 15 random bits) keeps 1 - p
    lanes = keep.flatten().view(-1, 4).float().mean(0)
    assert torch.all((lanes - (1 - p)).abs() < 6e-3), lanes
    # neighbouring entries are independent: P(keep_i and keep_i+1) = (1 - p)^2
    flat = keep.flatten().float()
    assert abs((flat[:-1] * flat[1:]).mean().item() - (1 - p) ** 2) < 3e-3
    assert bernoulli_keep_mask((1000,), 0.0).all()
    assert not bernoulli_keep_mask((1000,), 1.0 - 2 ** -(DROPOUT_BITS + 2)).any()


def test_fast_dropout_scales_kept_entries_and_masks_the_gradient():
    torch.manual_seed(0)
    drop = FastDropout(0.25)
    x = torch.randn(64, 8, 5, 5, requires_grad=True)
    y = drop(x)
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] / 0.75)
    assert 0.65 < kept.float().mean().item() < 0.85
    y.sum().backward()
    assert torch.allclose(x.grad, kept.float() / 0.75)
    drop.eval()
    assert drop(x) is x
    drop.train()
    drop.p = 1.0
    assert torch.count_nonzero(drop(x)) == 0


def test_fast_dropout_keeps_a_channels_last_layout():
    torch.manual_seed(0)
    x = torch.randn(8, 16, 6, 6).contiguous(memory_format=torch.channels_last)
    y = FastDropout(0.5)(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    kept = y != 0
    assert torch.allclose(y[kept], 2 * x[kept]) and 0.3 < kept.float().mean().item() < 0.7


def test_fast_dropout_swap_keeps_rates_and_trainer_uses_it_on_cpu():
    net = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.3), nn.Sequential(nn.Dropout(0.5)))
    assert use_fast_dropout(net) == 2
    rates = [m.p for m in net.modules() if isinstance(m, nn.Dropout)]
    assert rates == [0.3, 0.5] and all(isinstance(m, FastDropout) for m in net.modules() if isinstance(m, nn.Dropout))

    cfg = get_preset("tf-tutorial")
    tr = build_trainer(cfg, 1, 28, torch.device("cpu"))
    assert {type(m) for m in tr.D.modules() if isinstance(m, nn.Dropout)} == {FastDropout}
    assert tr.add_d_dropout(0.1) == pytest.approx(0.4)  # remedies still reach the rate
    set_field(cfg, "train.fast_dropout", False)
    tr = build_trainer(cfg, 1, 28, torch.device("cpu"))
    assert {type(m) for m in tr.D.modules() if isinstance(m, nn.Dropout)} == {nn.Dropout}


def test_joint_step_gradients_equal_one_concatenated_D_pass():
    """Separate D passes over the real and the fake half give the gradients of the seeds'
    single pass over both (fp32, no dropout: the results agree to float rounding)."""
    torch.manual_seed(0)
    cfg = get_preset("tf-tutorial")
    set_field(cfg, "train.precision", "fp32")
    set_field(cfg, "model.d_dropout", 0.0)
    tr = build_trainer(cfg, 1, 28, torch.device("cpu"))
    G, D = copy.deepcopy(tr.G), copy.deepcopy(tr.D)
    real_u8 = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8)
    rng = torch.get_rng_state()
    tr.train_step(real_u8)

    torch.set_rng_state(rng)
    z = torch.randn(6, cfg.model.z_dim)
    real = real_u8.float() / 127.5 - 1
    logits = D(torch.cat([real, G(z)]))
    r, f = logits[:6], logits[6:]
    bce = nn.functional.binary_cross_entropy_with_logits
    d_loss = bce(r, torch.ones(6)) + bce(f, torch.zeros(6))
    g_loss = bce(f, torch.ones(6))
    g_ref = torch.autograd.grad(g_loss, list(G.parameters()), retain_graph=True)
    d_ref = torch.autograd.grad(d_loss, list(D.parameters()))
    for p, ref in zip(tr.G.parameters(), g_ref):
        assert torch.allclose(p.grad, ref, rtol=1e-4, atol=1e-6)
    for p, ref in zip(tr.D.parameters(), d_ref):
        assert torch.allclose(p.grad, ref, rtol=1e-4, atol=1e-6)


def _count_forwards(module):
    outputs = []
    module.register_forward_hook(lambda m, i, o: outputs.append(o.detach().clone()))
    return outputs


@pytest.mark.parametrize("reuse", [False, True])
def test_reuse_fake_runs_G_once_and_trains_G_on_the_D_phase_fakes(reuse):
    torch.manual_seed(0)
    cfg = get_preset("dcgan")
    for k, v in {"model.g_channels": 8, "model.d_channels": 8, "train.precision": "fp32",
                 "train.reuse_fake": reuse}.items():
        set_field(cfg, k, v)
    tr = build_trainer(cfg, 1, 28, torch.device("cpu"))
    g_out, d_in = _count_forwards(tr.G), []
    tr.D.register_forward_hook(lambda m, i, o: d_in.append(i[0].detach().clone()))
    stats = tr.train_step(torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8))
    assert len(g_out) == (1 if reuse else 2)
    # D passes: real, fake (D phase, BatchNorm D: separate), fake (G phase)
    assert len(d_in) == 3
    assert torch.equal(d_in[1], d_in[2]) == reuse
    assert torch.isfinite(stats.g_loss) and torch.isfinite(stats.d_loss)


def test_reuse_fake_needs_the_alternating_step():
    cfg = get_preset("tf-tutorial")
    set_field(cfg, "train.reuse_fake", True)
    with pytest.raises(ConfigError, match="reuse_fake|reuse-fake"):
        validate(cfg)


def test_mirrored_padding_step_equals_the_plain_step():
    """One fp32 step with TF-'same' convs in mirrored frames (the default) and one without give
    the same losses and gradients (no dropout, so no random masks differ)."""
    results = []
    for mirror in (True, False):
        torch.manual_seed(0)
        cfg = get_preset("tf-tutorial")
        for k, v in {"train.precision": "fp32", "model.d_dropout": 0.0, "train.mirror_padding": mirror}.items():
            set_field(cfg, k, v)
        tr = build_trainer(cfg, 1, 28, torch.device("cpu"))
        assert any(m.mirror.active for m in tr.D.modules() if hasattr(m, "mirror")) == mirror
        stats = tr.train_step(torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8,
                                            generator=torch.Generator().manual_seed(1)))
        grads = {net: [p.grad for p in getattr(tr, net).parameters()] for net in ("G", "D")}
        results.append((stats, grads, tr.state_dict()))
    (s_m, g_m, sd_m), (s_p, g_p, sd_p) = results
    torch.testing.assert_close(s_m.d_loss, s_p.d_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(s_m.g_loss, s_p.g_loss, rtol=1e-5, atol=1e-6)
    for net in ("G", "D"):
        assert sd_m[net].keys() == sd_p[net].keys()  # checkpoints load either way
        for a, b in zip(g_m[net], g_p[net]):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * b.abs().max().item())


@pytest.mark.parametrize("amx,has_bf16,vendor,fast", [
    (True, True, "GenuineIntel", True),     # AMX tiles
    (False, True, "GenuineIntel", False),   # AVX512-BF16 alone on Intel: slower than fp32
    (False, True, "AuthenticAMD", True),    # Zen 4 AVX512-BF16
    (False, False, "AuthenticAMD", False),  # no bf16 instructions
])
def test_auto_precision_picks_bf16_only_where_it_is_faster(monkeypatch, amx, has_bf16, vendor, fast):
    from ganforge import device

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: has_bf16)
    monkeypatch.setattr(device, "_cpu_vendor", lambda: vendor)
    cpu = torch.device("cpu")
    assert device.bf16_supported(cpu) == fast
    assert device.resolve_precision("auto", cpu) == ("bf16" if fast else "fp32")
    assert device.resolve_precision("fp32", cpu) == "fp32" and device.resolve_precision("bf16", cpu) == "bf16"
