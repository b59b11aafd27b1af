"""Mini-batch std-dev and mini-batch discrimination, alone and inside every discriminator."""
import pytest
import torch
from torch import nn

from ganforge.config import ModelConfig
from ganforge.models import ARCHS, build_models, count_params
from ganforge.models.seeds import CholletDiscriminator, TFTutorialDiscriminator
from ganforge.models.dense import GeronDenseDiscriminator
from ganforge.models.layers import (
    MinibatchDiscrimination,
    MinibatchStdDev,
    batch_dependent,
    largest_divisor_at_most,
)
from ganforge.regularisers import apply_spectral_norm, r1_penalty

Z = {"geron-dense": 30, "chollet-cifar10": 32}


def build(arch, channels=1, size=None, **kw):
    size = size or ARCHS[arch].sizes[0]
    return build_models(ModelConfig(arch=arch, z_dim=Z.get(arch, 100), d_channels=8, g_channels=8, **kw),
                        channels, size)


def test_minibatch_discrimination_shape_and_identical_rows():
    torch.manual_seed(0)
    mbd = MinibatchDiscrimination(10, num_kernels=6, kernel_dim=4)
    same = mbd(torch.randn(1, 10).expand(5, 10))
    assert same.shape == (5, 16)
    # identical rows: every other row is at L1 distance 0, so o_b = (N - 1) * exp(0) = 4 in all kernels
    torch.testing.assert_close(same[:, 10:], torch.full((5, 6), 4.0))
    diverse = mbd(100 * torch.randn(5, 10))[:, 10:]
    assert (diverse < 3.0).all()
    with pytest.raises(ValueError, match=r"\(N, 10\)"):
        mbd(torch.randn(5, 11))


def test_minibatch_stddev_is_zero_for_identical_and_positive_for_diverse():
    torch.manual_seed(0)
    mbstd = MinibatchStdDev(group_size=4)
    same = mbstd(torch.randn(1, 3, 5, 5).expand(8, 3, 5, 5))
    assert same.shape == (8, 4, 5, 5) and same[:, 3].abs().max() < 1e-3
    diverse = mbstd(torch.randn(8, 3, 5, 5))
    assert (diverse[:, 3] > 0.5).all()
    # one value per image, constant over the map; dense features (N, F) get one more feature
    assert (diverse[:, 3] == diverse[:, 3, :1, :1]).all()
    assert mbstd(torch.randn(6, 7)).shape == (6, 8)


def test_minibatch_stddev_groups_fit_any_batch():
    assert [largest_divisor_at_most(n, 4) for n in (1, 2, 3, 4, 6, 7, 8, 9)] == [1, 2, 3, 4, 3, 1, 4, 3]
    out = MinibatchStdDev(4)(torch.randn(6, 2, 3, 3))
    assert out.shape == (6, 3, 3, 3) and torch.isfinite(out).all()
    # group members of image m are m, m + 2, m + 4 (6 = 3 groups... of 3 images): two distinct values
    assert len(set(out[:, 2, 0, 0].tolist())) == 2
    assert MinibatchStdDev(4)(torch.randn(1, 2, 3, 3))[:, 2].abs().max() < 1e-3


def test_every_arch_wires_the_options_and_is_unchanged_without_them():
    for arch in ARCHS:
        if arch in ("progan", "stylegan2"):  # their Ds always have mini-batch std-dev and refuse the rest
            continue  # (test_models_progan.py, tests/train/test_stylegan_training.py)
        _, D0 = build(arch)
        _, D = build(arch, minibatch_stddev=True, minibatch_disc=3)
        assert not any(isinstance(m, (MinibatchStdDev, MinibatchDiscrimination)) for m in D0.modules()), arch
        kinds = {type(m) for m in D.modules()}
        assert {MinibatchStdDev, MinibatchDiscrimination} <= kinds, arch
        assert count_params(D) > count_params(D0), arch
        # the loop must then pass real and fake through D separately
        assert batch_dependent(D) and batch_dependent(D0) == (arch == "dcgan"), arch


def test_tf_tutorial_parameter_counts_with_options_on():
    _, D0 = build("tf-tutorial")
    _, D = build("tf-tutorial", minibatch_stddev=True)
    assert count_params(D) == count_params(D0) + 7 * 7  # one more 7x7 map into Dense(1)
    _, D = build("tf-tutorial", minibatch_disc=5)
    features = 128 * 7 * 7
    assert count_params(D) == count_params(D0) + features * 5 * 16 + 5  # T, and 5 more Dense inputs


@pytest.mark.parametrize("D_class", [TFTutorialDiscriminator, GeronDenseDiscriminator, CholletDiscriminator])
def test_seed_discriminators_train_with_every_option_on(D_class):
    torch.manual_seed(0)
    D = apply_spectral_norm(D_class(minibatch_stddev=True, minibatch_disc=4))
    x = torch.rand(3, D.img_channels, D.img_size, D.img_size) * 2 - 1
    logits = D(x)
    assert logits.shape == (3,) and logits.dtype == torch.float32
    # R1 differentiates D twice: every layer, the batch-aware ones included, must support that
    (logits.sum() + r1_penalty(D, x)).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in D.parameters())
    assert D.net.mbd.T.grad.abs().sum() > 0


def test_conditional_dcgan_with_options_trains_and_runs_channels_last():
    torch.manual_seed(0)
    _, D = build("dcgan", 3, 32, minibatch_stddev=True, minibatch_disc=6, num_classes=3, spectral_norm=True)
    x, y = torch.rand(4, 3, 32, 32) * 2 - 1, torch.tensor([0, 2, 1, 0])
    logits = D(x, y)
    logits.sum().backward()
    assert logits.shape == (4,) and D.head.mbd.T.grad.abs().sum() > 0
    D.eval()
    with torch.no_grad():
        ref = D(x, y)
        D.to(memory_format=torch.channels_last)
        out = D(x.contiguous(memory_format=torch.channels_last), y)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


def test_dcgan_minibatch_disc_replaces_the_head_conv():
    _, D = build("dcgan", 1, 28, minibatch_disc=3)
    assert isinstance(D.head, nn.Sequential) and isinstance(D.head.fc, nn.Linear)
    assert D.head.fc.in_features == 8 * 2 * 7 * 7 + 3
    _, D = build("dcgan", 1, 28, minibatch_stddev=True)
    assert isinstance(D.head, nn.Conv2d) and D.head.in_channels == 8 * 2 + 1
