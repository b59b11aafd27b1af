"""ProGAN's networks: every block's shape at every stage, the fade-in identities at alpha 0, the
equalised learning rate and pixel norm, and the stage carried by the state dict."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import ModelConfig
from ganforge.errors import ConfigError
from ganforge.models import batch_dependent, build_models
from ganforge.models.layers_eq import EqualizedConv2d, EqualizedLinear, PixelNorm
from ganforge.models.progan import ProGANDiscriminator, ProGANGenerator, channels_at, resolutions


def tiny(size: int = 32, channels: int = 3):
    torch.manual_seed(0)
    return (ProGANGenerator(z_dim=16, img_channels=channels, img_size=size, channel_base=128, channel_max=16),
            ProGANDiscriminator(img_channels=channels, img_size=size, channel_base=128, channel_max=16))


def test_resolutions_and_widths():
    assert resolutions(32) == [4, 8, 16, 32] and resolutions(64) == [4, 8, 16, 32, 64]
    # the paper's rule: full width up to 32x32 (channel_base 16384 for 512), halving after
    assert [channels_at(r, 16384, 512) for r in (4, 8, 16, 32, 64, 128)] == [512, 512, 512, 512, 256, 128]
    assert [channels_at(r, 2048, 64) for r in (4, 8, 16, 32, 64)] == [64, 64, 64, 64, 32]
    with pytest.raises(ValueError):
        resolutions(28)


@pytest.mark.parametrize("size", [16, 32])
def test_every_block_has_its_shape_at_every_stage(size):
    G, D = tiny(size)
    z, n = torch.randn(4, 16), 4
    for stage, res in enumerate(G.resolutions):
        for alpha in (0.0, 0.5, 1.0) if stage else (1.0,):
            G.set_stage(stage, alpha)
            D.set_stage(stage, alpha)
            x, prev = G.features(z, stage)
            assert x.shape == (n, channels_at(res, 128, 16), res, res)
            assert prev is None if stage == 0 else prev.shape == (n, channels_at(res // 2, 128, 16), res // 2, res // 2)
            assert G.to_rgb[stage](x).shape == (n, 3, res, res)
            img = G(z)
            assert img.shape == (n, 3, size, size)  # always the final size
            assert D(img).shape == (n,) and D(img).dtype == torch.float32
        if stage:  # D's block of this stage halves the size and goes to the previous stage's width
            h = D.from_rgb[stage](torch.zeros(n, 3, res, res))
            assert h.shape == (n, channels_at(res, 128, 16), res, res)
            assert D.blocks[stage](h).shape == (n, channels_at(res // 2, 128, 16), res // 2, res // 2)


def test_g_at_alpha_0_equals_the_previous_stage_upsampled():
    G, _ = tiny(32)
    z = torch.randn(5, 16)
    with torch.no_grad():
        for stage in (1, 2, 3):
            G.set_stage(stage - 1, 1.0)
            before = G(z)
            G.set_stage(stage, 0.0)
            assert torch.equal(G(z), before)
            G.set_stage(stage, 0.5)
            assert not torch.equal(G(z), before)


def test_g_output_is_the_stage_image_upsampled_nearest():
    G, _ = tiny(32)
    G.set_stage(1, 1.0)  # 8x8, shown at 32x32
    with torch.no_grad():
        img = G(torch.randn(2, 16))
    blocks = img.reshape(2, 3, 8, 4, 8, 4)
    assert torch.equal(blocks, blocks[:, :, :, :1, :, :1].expand_as(blocks))


def test_d_at_alpha_0_equals_the_previous_stage_on_the_downsampled_input():
    _, D = tiny(32)
    x = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        for stage in (1, 2, 3):
            D.set_stage(stage - 1, 1.0)
            before = D(x)
            D.set_stage(stage, 0.0)
            torch.testing.assert_close(D(x), before, rtol=1e-5, atol=1e-5)
            # the same score whether D downsamples, or is handed the previous stage's image upsampled
            res = D.resolutions[stage - 1]
            coarse = F.interpolate(F.avg_pool2d(x, 32 // res), scale_factor=32 // res, mode="nearest")
            D.set_stage(stage - 1, 1.0)
            torch.testing.assert_close(D(coarse), before, rtol=1e-5, atol=1e-5)


def test_stage_and_alpha_travel_in_the_state_dict():
    G, D = tiny(32)
    G.set_stage(2, 0.25)
    D.set_stage(2, 0.25)
    G.images_seen.fill_(1234)
    G2, D2 = tiny(32)
    G2.load_state_dict(G.state_dict())
    D2.load_state_dict(D.state_dict())
    assert (G2.stage_size, float(G2.alpha), int(G2.images_seen)) == (16, 0.25, 1234)
    assert G2._fading and D2.stage_size == 16
    z = torch.randn(3, 16)
    with torch.no_grad():
        assert torch.equal(G2(z), G(z))
    with pytest.raises(ValueError):
        G.set_stage(4, 1.0)


@pytest.mark.parametrize("option,flag", [({"minibatch_disc": 4}, "--minibatch-disc"), ({"d_dropout": 0.3}, "--d-dropout"),
                                         ({"spectral_norm": True}, "--spectral-norm")])
def test_d_options_it_cannot_honour_are_refused(option, flag):
    with pytest.raises(ConfigError, match=f"^{flag}: not available for --arch progan"):
        build_models(ModelConfig(arch="progan", **option), 1, 32)
    G, D = build_models(ModelConfig(arch="progan", minibatch_stddev=True, d_dropout=0.0), 1, 32)
    assert batch_dependent(D)  # its own mini-batch std-dev: real and fake go through D separately


def test_registered_and_built_from_the_config():
    G, D = build_models(ModelConfig(arch="progan", z_dim=16, channel_base=256, channel_max=16), 1, 64)
    assert isinstance(G, ProGANGenerator) and G.output == "linear" and G.resolutions[-1] == 64
    assert isinstance(D, ProGANDiscriminator) and D(G(torch.randn(2, 16))).shape == (2,)


# --------------------------------------------------------------------------- layers
def test_equalised_lr_scale_is_he_constant_and_weights_are_standard_normal():
    torch.manual_seed(0)
    conv = EqualizedConv2d(64, 96, 3)
    lin = EqualizedLinear(512, 256)
    assert conv.scale == pytest.approx(math.sqrt(2 / (64 * 9)))
    assert lin.scale == pytest.approx(math.sqrt(2 / 512))
    for w in (conv.weight, lin.weight):  # 55,296 and 131,072 draws: mean, std within ~10 standard errors
        assert abs(float(w.detach().mean())) < 0.02 and abs(float(w.detach().std()) - 1.0) < 0.02
    assert float(conv.bias.detach().abs().max()) == 0.0 and float(lin.bias.detach().abs().max()) == 0.0
    # the scale is applied at run time: the layer is the plain op with the scaled weight
    x = torch.randn(2, 64, 5, 5)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight * conv.scale, conv.bias, padding=1))
    # and so the output keeps the input's magnitude (He init): second moment ~2 before a ReLU halves it
    y = F.relu(conv(torch.randn(16, 64, 8, 8))).detach()
    assert 0.8 < float(y.pow(2).mean()) < 1.25


def test_pixel_norm_gives_unit_mean_square_per_pixel():
    x = torch.randn(4, 32, 6, 6) * torch.rand(4, 1, 6, 6) * 10
    y = PixelNorm()(x)
    torch.testing.assert_close(y.pow(2).mean(dim=1), torch.ones(4, 6, 6), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(PixelNorm()(torch.randn(3, 20) * 7).pow(2).mean(dim=1), torch.ones(3))
