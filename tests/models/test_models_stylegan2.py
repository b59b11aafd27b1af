"""StyleGAN2's networks: shapes at 32 and 64 px, the ws layout and its layer groups, modulated
convolution (demodulation, its three implementations), style mixing, truncation in W, noise
inputs, the running mean of w and the mapping network's learning-rate multiplier."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import ModelConfig
from ganforge.models import build_models
from ganforge.models.stylegan2 import (MODCONV_IMPLS, SIZES, MappingNetwork, StyleGAN2Discriminator,
                                      StyleGAN2Generator, SynthesisLayer, ToRGB, channels_at, modulated_conv2d,
                                      resolutions)

Z, W = 16, 16


def tiny(size: int = 32, channels: int = 1, **kw):
    torch.manual_seed(0)
    return (StyleGAN2Generator(z_dim=Z, img_channels=channels, img_size=size, w_dim=W, mapping_layers=2,
                               channel_base=256, channel_max=8, **kw),
            StyleGAN2Discriminator(img_channels=channels, img_size=size, channel_base=256, channel_max=8))


def record_ws(G: StyleGAN2Generator, run: bool = True) -> list[torch.Tensor]:
    """Wrap G.syn so that every ws (N, num_ws, w_dim) reaching the synthesis network is kept.
    run: also run the synthesis (else return zero images, to save time)."""
    seen: list[torch.Tensor] = []
    forward = G.syn.forward

    def spy(ws, noise):
        seen.append(ws.detach().clone())
        return forward(ws, noise) if run else torch.zeros(ws.shape[0], G.img_channels, G.img_size, G.img_size)

    G.syn.forward = spy
    return seen


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_g_and_d_shapes(size, channels):
    G, D = tiny(size, channels)
    n = 4
    z = torch.randn(n, Z)
    assert G.num_ws == 2 * len(resolutions(size)) == {32: 8, 64: 10}[size]
    w = G.mapping(z)
    assert w.shape == (n, W)
    ws = G.broadcast(w)
    assert ws.shape == (n, G.num_ws, W) and torch.equal(ws[:, 3], w)
    for mode in (G.train, G.eval):
        mode()
        img = G(z)
        assert img.shape == (n, channels, size, size) and img.dtype == torch.float32
        assert torch.isfinite(img).all()
    G.eval()
    with torch.no_grad():  # synthesis takes one w for every layer, or the full ws
        torch.testing.assert_close(G.synthesis(w), G.synthesis(ws))
        torch.testing.assert_close(G.synthesis(ws), G(z))
    logits = D(img)
    assert logits.shape == (n,) and logits.dtype == torch.float32
    # the widths follow the official rule min(channel_base // r, channel_max)
    assert [b.torgb.weight.shape[0] for b in G.syn.blocks()] == [channels] * len(resolutions(size))
    assert [b.conv1.weight.shape[0] for b in G.syn.blocks()] == [channels_at(r, 256, 8) for r in resolutions(size)]
    assert getattr(D, f"b{size}").fromrgb.weight.shape[:2] == (channels_at(size, 256, 8), channels)


def test_bad_shapes_are_refused():
    G, D = tiny(32, 1)
    with pytest.raises(ValueError, match="expects float noise of shape"):
        G(torch.randn(2, Z + 1))
    with pytest.raises(ValueError, match="expects ws of shape"):
        G.synthesis(torch.randn(2, G.num_ws + 1, W))
    with pytest.raises(ValueError):
        D(torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match="not 28"):
        StyleGAN2Generator(z_dim=Z, img_channels=1, img_size=28)


def test_layer_groups_at_32_and_64_px():
    G32, _ = tiny(32)
    G64, _ = tiny(64, 3)
    # ws index i feeds layers of resolution resolutions[i // 2]: 4,4,8,8,16,16,32,32(,64,64)
    assert G32.layer_groups() == {"coarse": (0, 4), "middle": (4, 6), "fine": (6, 8)}
    assert G64.layer_groups() == {"coarse": (0, 4), "middle": (4, 8), "fine": (8, 10)}
    for size in SIZES:  # at every size the groups tile [0, num_ws) in order, fine never empty
        G = StyleGAN2Generator(z_dim=Z, img_channels=1, img_size=size, w_dim=W, mapping_layers=1, channel_base=64,
                               channel_max=4)
        g = G.layer_groups()
        assert g["coarse"][0] == 0 and g["coarse"][0] <= g["coarse"][1] == g["middle"][0], size
        assert g["middle"][0] <= g["middle"][1] == g["fine"][0] < g["fine"][1] == G.num_ws, size
    G8 = StyleGAN2Generator(z_dim=Z, img_channels=1, img_size=8, w_dim=W, mapping_layers=1, channel_base=64,
                            channel_max=4)
    assert G8.layer_groups() == {"coarse": (0, 2), "middle": (2, 2), "fine": (2, 4)}


def test_built_from_the_config_with_its_shape_flags():
    G, D = build_models(ModelConfig(arch="stylegan2", z_dim=Z, w_dim=24, mapping_layers=3, channel_base=256,
                                    channel_max=8), 3, 64)
    assert isinstance(G, StyleGAN2Generator) and isinstance(D, StyleGAN2Discriminator)
    assert G.output == "linear" and G.w_dim == 24 and G.map.num_layers == 3 and G.num_ws == 10
    assert G.mapping(torch.randn(2, Z)).shape == (2, 24)
    assert D(G(torch.randn(4, Z))).shape == (4,)


# --------------------------------------------------------------------------- modulated convolution
@pytest.mark.parametrize("style_scale", [0.01, 1.0, 30.0])
def test_demodulation_gives_unit_variance_outputs(style_scale):
    torch.manual_seed(1)
    c_in, c_out = 32, 16
    x = torch.randn(64, c_in, 12, 12)
    weight = torch.randn(c_out, c_in, 3, 3) / math.sqrt(c_in * 9)
    styles = torch.exp(torch.randn(64, c_in)) * style_scale  # very unequal styles per channel
    for impl in MODCONV_IMPLS:
        out = modulated_conv2d(x, weight, styles, demodulate=True, impl=impl)
        inner = out[:, :, 1:-1, 1:-1]  # (the zero padding lowers the border's variance)
        # each sample's output channel has unit-norm weights: variance 1; 64*16*100 = 102,400 values
        assert abs(float(inner.var()) - 1.0) < 0.05, impl
        per_channel = inner.transpose(0, 1).reshape(c_out, -1).var(dim=1)
        assert float((per_channel - 1).abs().max()) < 0.12, impl
    # without demodulation the same styles give outputs that scale with them
    raw = modulated_conv2d(x, weight, styles, demodulate=False)[:, :, 1:-1, 1:-1]
    unit = modulated_conv2d(x, weight, styles / style_scale, demodulate=False)[:, :, 1:-1, 1:-1]
    assert float(raw.std()) == pytest.approx(style_scale * float(unit.std()), rel=1e-4)
    assert float(unit.std()) > 1.2  # (the exp(N(0, 1)) styles have second moment e^2: not unit)


@pytest.mark.parametrize("kernel", [1, 3])
@pytest.mark.parametrize("demodulate", [True, False])
def test_the_three_modconv_impls_agree(kernel, demodulate):
    torch.manual_seed(2)
    x = torch.randn(5, 12, 9, 9)
    weight = torch.randn(7, 12, kernel, kernel) / math.sqrt(12 * kernel * kernel)
    styles = torch.randn(5, 12) + 1.0
    outs = {impl: modulated_conv2d(x, weight, styles, demodulate, impl) for impl in MODCONV_IMPLS}
    for impl, out in outs.items():
        assert out.shape == (5, 7, 9, 9) and out.dtype == torch.float32
        torch.testing.assert_close(out, outs["grouped"], rtol=1e-5, atol=1e-5, msg=impl)
    # the per-sample reference: one plain conv per sample with its own modulated weight
    for i in range(5):
        wt = weight * styles[i][None, :, None, None]
        if demodulate:
            wt = wt / wt.square().sum(dim=(1, 2, 3), keepdim=True).add(1e-8).sqrt()
        torch.testing.assert_close(outs["scaled"][i:i + 1], F.conv2d(x[i:i + 1], wt, padding=kernel // 2),
                                   rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="impl must be one of"):
        modulated_conv2d(x, weight, styles, demodulate, "fft")


def test_the_impls_agree_in_the_whole_generator():
    G, _ = tiny(32, 3)
    G.eval()
    z = torch.randn(3, Z)
    with torch.no_grad():
        imgs = {}
        for impl in MODCONV_IMPLS:
            G.set_modconv(impl)
            assert all(m.impl == impl for m in G.modules() if isinstance(m, (SynthesisLayer, ToRGB)))
            imgs[impl] = G(z)
    for impl in MODCONV_IMPLS:
        torch.testing.assert_close(imgs[impl], imgs["grouped"], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        G.set_modconv("fft")


def test_demodulated_output_ignores_the_style_scale_and_raw_output_scales_with_it():
    torch.manual_seed(3)
    x = torch.randn(4, 8, 6, 6)
    weight = torch.randn(5, 8, 3, 3) / math.sqrt(72)
    styles = torch.rand(4, 8) + 0.5
    for impl in MODCONV_IMPLS:
        for c in (0.1, 3.0, 50.0):
            torch.testing.assert_close(modulated_conv2d(x, weight, styles * c, True, impl),
                                       modulated_conv2d(x, weight, styles, True, impl), rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(modulated_conv2d(x, weight, styles * c, False, impl),
                                       c * modulated_conv2d(x, weight, styles, False, impl), rtol=1e-4, atol=1e-5)
        # one input channel's style scales only that channel's contribution
        s2 = styles.clone()
        s2[:, 0] *= 2
        diff = modulated_conv2d(x, weight, s2, False, impl) - modulated_conv2d(x, weight, styles, False, impl)
        only0 = modulated_conv2d(x[:, :1], weight[:, :1], styles[:, :1], False, impl)
        torch.testing.assert_close(diff, only0, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- style mixing
def _crossover(ws: torch.Tensor, w1: torch.Tensor) -> int:
    """The first layer whose ws is not w1 (num_ws when none); the layers from there on must all
    hold one other w, different from w1."""
    num_ws = ws.shape[1]
    same = [torch.equal(ws[:, i], w1) for i in range(num_ws)]
    cut = same.index(False) if False in same else num_ws
    assert all(same[:cut]) and not any(same[cut:]), same
    for i in range(cut, num_ws):
        assert torch.equal(ws[:, i], ws[:, cut])
    return cut


def test_style_mixing_uses_w1_before_the_crossover_and_w2_after():
    G, _ = tiny(32)
    G.train()
    seen = record_ws(G, run=False)
    z = torch.randn(3, Z)
    cuts = set()
    for seed in range(60):
        torch.manual_seed(seed)
        G(z, mixing_prob=1.0)
        cut = _crossover(seen[-1], G.mapping(z))
        assert 1 <= cut < G.num_ws  # mixing_prob 1: always mixed, never at layer 0
        cuts.add(cut)
        # w2 is the mapping of a second latent drawn after the crossover and the coin
        torch.manual_seed(seed)
        torch.randint(1, G.num_ws, ())
        torch.rand(())
        w2 = G.mapping(torch.randn_like(z))
        assert torch.equal(seen[-1][:, -1], w2)
    assert cuts == set(range(1, G.num_ws))  # every crossover occurs


def test_style_mixing_with_a_patched_crossover(monkeypatch):
    G, _ = tiny(64, 3)
    G.train()
    seen = record_ws(G)
    z = torch.randn(2, Z)
    for cut in (1, 4, G.num_ws - 1):
        monkeypatch.setattr(torch, "randint", lambda lo, hi, size, cut=cut: torch.tensor(cut))
        G(z, mixing_prob=1.0)
        monkeypatch.undo()
        assert _crossover(seen[-1], G.mapping(z)) == cut


def test_no_mixing_unless_asked():
    """G's own forward never mixes (sampling, G_ema, export): only a caller that asks for it,
    as training does, gets mixed styles; probability 0 is never mixed either."""
    G, _ = tiny(32)
    seen = record_ws(G, run=False)
    z = torch.randn(3, Z)
    for mode in (G.train, G.eval):
        mode()
        for seed in range(20):
            torch.manual_seed(seed)
            G(z)
            assert _crossover(seen[-1], G.mapping(z)) == G.num_ws
            G(z, mixing_prob=0.0)
            assert _crossover(seen[-1], G.mapping(z)) == G.num_ws


def test_mixing_prob_is_the_share_of_mixed_batches():
    G, _ = tiny(32)
    G.train()
    seen = record_ws(G, run=False)
    z = torch.randn(2, Z)
    torch.manual_seed(0)
    mixed = 0
    for _ in range(200):
        G(z, mixing_prob=0.5)
        mixed += _crossover(seen[-1], G.mapping(z)) < G.num_ws
    assert 70 < mixed < 130  # binomial(200, 0.5): mean 100, sd ~7


# --------------------------------------------------------------------------- truncation, noise, w_avg
def test_truncation_psi_0_gives_w_avg_and_psi_1_gives_w():
    G, _ = tiny(32)
    G.w_avg.copy_(torch.randn(W))
    w = G.mapping(torch.randn(6, Z))
    t0 = G.truncate(w, 0.0)
    assert t0.shape == w.shape and all(torch.equal(row, G.w_avg) for row in t0)
    assert torch.equal(G.truncate(w, 1.0), w) and torch.equal(G.truncate(w, None), w)
    torch.testing.assert_close(G.truncate(w, 0.5), (w + G.w_avg) / 2)
    ws = G.broadcast(w)  # ws work too
    assert torch.equal(G.truncate(ws, 0.0), G.w_avg.expand_as(ws))
    t0[0, 0] += 1  # the result is not a view of the buffer
    assert not torch.equal(t0[0], G.w_avg)


def test_noise_modes_random_const_and_none():
    """random: a fresh draw each call (or per-image seeds: the same image whatever the batch);
    const: the stored maps; none: no noise. At strength 0 (the start) noise changes nothing."""
    G, _ = tiny(32, 3)
    strengths = [m.noise_strength for m in G.modules() if isinstance(m, SynthesisLayer)]
    assert len(strengths) == 2 * len(G.syn.resolutions) - 1 and all(float(s.detach()) == 0.0 for s in strengths)
    G.eval()
    z = torch.randn(2, Z)
    with torch.no_grad():
        quiet = G(z, noise_mode="none")
        assert torch.equal(G(z), quiet) and torch.equal(G(z, noise_mode="const"), quiet)
        for s in strengths:
            s.fill_(0.5)
        a, b = G(z), G(z)
        assert not torch.equal(a, b)  # random: fresh per call
        c = G(z, noise_mode="const")
        assert torch.equal(G(z, noise_mode="const"), c) and not torch.equal(c, quiet)
        assert torch.equal(G(z, noise_mode="none"), quiet)
        seeds = torch.tensor([11, 12])
        both = G(z, noise_mode="random", noise_seeds=seeds)
        first = G(z[:1], noise_mode="random", noise_seeds=seeds[:1])
        torch.testing.assert_close(both[:1], first, rtol=1e-5, atol=1e-5)  # (batched convs round differently)
        assert torch.equal(G(z, noise_seeds=seeds), both) and not torch.equal(both, a)
    with pytest.raises(ValueError, match="noise mode"):
        G(z, noise_mode="sometimes")


def test_w_avg_moves_only_in_train_mode_toward_the_batch_mean():
    G, _ = tiny(32)  # (default mixing: the second latent must not move w_avg)
    start = torch.randn(W)
    G.w_avg.copy_(start)
    z = torch.randn(8, Z)
    G.eval()
    with torch.no_grad():
        G(z)
    assert torch.equal(G.w_avg, start)
    G.train()
    with torch.no_grad():
        G(z)
    w_mean = G.mapping(z).mean(0)
    torch.testing.assert_close(G.w_avg, start + (1 - G.w_avg_beta) * (w_mean - start), rtol=1e-6, atol=1e-7)
    assert G.w_avg_beta == 0.995
    # mapping, synthesis and truncate never move it
    before = G.w_avg.clone()
    G.synthesis(G.truncate(G.mapping(z), 0.7))
    assert torch.equal(G.w_avg, before)


def test_w_avg_and_pl_mean_travel_in_the_state_dict():
    G, _ = tiny(32)
    G.w_avg.copy_(torch.randn(W))
    G.pl_mean.fill_(1.25)
    G2, _ = tiny(32)
    G2.load_state_dict(G.state_dict())
    assert torch.equal(G2.w_avg, G.w_avg) and float(G2.pl_mean) == 1.25


# --------------------------------------------------------------------------- equalised lr with lr_mul
def test_mapping_weights_are_stored_over_lr_mul_and_scaled_back_at_run_time():
    torch.manual_seed(0)
    net = MappingNetwork(z_dim=128, w_dim=256, num_layers=3, lr_mul=0.01)
    for i in range(3):
        fc = getattr(net, f"fc{i}")
        w = fc.weight.detach()
        fan_in = w.shape[1]
        assert fc.weight_gain == pytest.approx(0.01 / math.sqrt(fan_in)) and fc.bias_gain == 0.01
        # 32,768 or 65,536 draws of N(0, 1) / 0.01: mean and std within ~10 standard errors
        assert abs(float(w.mean())) < 2.0 and abs(float(w.std()) / 100.0 - 1.0) < 0.02
        assert float(fc.bias.detach().abs().max()) == 0.0
        x = torch.randn(3, fan_in)
        # leaky ReLU 0.2 times sqrt(2) after the He-scaled N(0, 1) layer (gain 1)
        want = F.leaky_relu(F.linear(x, (w * 0.01) / math.sqrt(fan_in)), 0.2) * math.sqrt(2)
        torch.testing.assert_close(fc(x), want, rtol=1e-5, atol=1e-5)
    # unit second moment in, about unit out (leaky ReLU * sqrt(2) keeps it)
    with torch.no_grad():
        out = net(torch.randn(4096, 128))
    assert 0.6 < float(out.square().mean()) < 1.6
    # a step on the stored weights moves the effective weight lr_mul times as far
    fc = net.fc0
    before = (fc.weight * fc.weight_gain).detach().clone()
    with torch.no_grad():
        fc.weight.add_(1.0)
    torch.testing.assert_close((fc.weight * fc.weight_gain).detach() - before,
                               torch.full_like(before, 0.01 / math.sqrt(128)), rtol=1e-4, atol=1e-7)


def test_the_generator_mapping_uses_lr_mul_0_01_and_the_styles_start_near_1():
    G, _ = tiny(32)
    assert all(getattr(G.map, f"fc{i}").bias_gain == 0.01 for i in range(G.map.num_layers))
    for m in G.modules():
        if isinstance(m, (SynthesisLayer, ToRGB)):  # A's bias starts at 1: styles ~1 at the start
            assert m.affine.bias_gain == 1.0 and torch.equal(m.affine.bias.detach(), torch.ones_like(m.affine.bias))
