"""The tricks observed doing their job, each measured against a value computed here from its
definition: spectral norm holds every D weight at unit norm while the weights move, the
mini-batch std-dev channel is the group's standard deviation, and instance noise is zero-mean
Gaussian noise of the configured std, annealed linearly to 0."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganforge.config import ModelConfig
from ganforge.models import ARCHS, build_models
from ganforge.regularisers import apply_spectral_norm
from ganforge.train.tricks import add_instance_noise, instance_noise_std

Z = {"geron-dense": 30, "chollet-cifar10": 32}  # the seeds' latent sizes; 100 elsewhere
SIZE28 = [name for name, spec in ARCHS.items() if 28 in spec.sizes]
CONV_T = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
NORMALISED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, *CONV_T)


def build(arch, **kw):
    torch.manual_seed(0)
    cfg = ModelConfig(arch=arch, z_dim=Z.get(arch, 100), g_channels=8, d_channels=8, **kw)
    return build_models(cfg, 1, 28)


def top_singular_value(weight: torch.Tensor, conv_transpose: bool = False) -> float:
    """sigma_max of a weight as a matrix (outputs, everything else). torch's spectral_norm
    takes outputs along dim 0, except ConvTranspose (dim 1: its weight is (in, out, k...))."""
    w = weight.detach()
    if conv_transpose:
        w = w.transpose(0, 1)
    w = w.reshape(w.shape[0], -1).double()
    # sqrt of the largest eigenvalue of the smaller Gram matrix: torch.linalg.matrix_norm(w, 2)
    # without an SVD (LAPACK's SVD takes seconds on a busy 2-core machine)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return torch.linalg.eigvalsh(gram)[-1].sqrt().item()


def sigmas(net: nn.Module) -> dict[str, float]:
    """sigma_max of every Linear/Conv weight as the forward pass uses it. Read in eval mode: a
    train-mode read would run one more power iteration."""
    was = net.training
    net.eval()
    try:
        return {name: top_singular_value(m.weight, isinstance(m, CONV_T))
                for name, m in net.named_modules() if isinstance(m, NORMALISED)}
    finally:
        net.train(was)


def perturb_raw_weights_(net: nn.Module) -> None:
    """What training does to D: move every raw (pre-normalisation) weight, here by adding a
    random rank-one matrix twice as strong as the weight, so that the singular vectors the power
    iteration tracks are stale and the normalised weight is well above unit norm until D runs."""
    with torch.no_grad():
        for m in net.modules():
            if hasattr(m, "parametrizations") and "weight" in m.parametrizations:
                raw = m.parametrizations.weight.original
                mat = raw.reshape(raw.shape[0], -1)  # no ConvTranspose in a D: outputs are dim 0
                u, v = torch.randn(mat.shape[0]), torch.randn(mat.shape[1])
                spike = 2 * top_singular_value(mat) * torch.outer(u / u.norm(), v / v.norm())
                raw.add_(spike.reshape(raw.shape))


# --------------------------------------------------------------------------- spectral normalisation


@pytest.mark.parametrize("arch", SIZE28)
def test_spectral_norm_holds_every_D_weight_at_unit_norm_as_it_trains(arch):
    _, D = build(arch, spectral_norm=True)
    names = [n for n, m in D.named_modules() if isinstance(m, NORMALISED)]
    assert names and all(hasattr(D.get_submodule(n), "parametrizations") for n in names), "every weight of D"
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    D.train()
    # The weights move (as in training); the power iteration, one step per train-mode forward,
    # catches up with them.
    perturb_raw_weights_(D)
    assert min(sigmas(D).values()) > 1.5, "the moved weights are off until D runs"
    for _ in range(10):
        D(x)
    for name, s in sigmas(D).items():
        assert abs(s - 1) < 0.01, f"{arch} D.{name}: sigma_max {s:.3f}"
    # the same D without spectral norm: its weights are whatever the init made them
    _, D_plain = build(arch)
    assert max(abs(s - 1) for s in sigmas(D_plain).values()) > 0.3


def test_spectral_norm_of_transposed_convs_normalises_the_output_dimension():
    # No D has a ConvTranspose; G's do. Its weight is (in, out, k, k) and torch's convention
    # (dim=1) makes (out, in*k*k) the matrix held at sigma_max = 1.
    G, _ = build("dcgan")
    deconvs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert deconvs and any(m.in_channels != m.out_channels for m in deconvs)
    apply_spectral_norm(G)
    z = torch.randn(4, 100)
    G.train()
    for _ in range(20):
        G(z)
    G.eval()
    for m in deconvs:
        assert abs(top_singular_value(m.weight, conv_transpose=True) - 1) < 0.05, m
    # the other reading, (in, out*k*k), is a different matrix: not the one held at 1
    assert max(abs(top_singular_value(m.weight) - 1) for m in deconvs) > 0.1


# --------------------------------------------------------------------------- mini-batch std-dev


def stddev_layer_class():
    """The mini-batch std-dev layer, found in a D built with the option on (wherever it lives)."""
    _, D = build("dcgan", minibatch_stddev=True)
    (cls,) = {type(m) for m in D.modules() if type(m).__name__ == "MinibatchStdDev"}
    return cls


def expected_group_stat(x: torch.Tensor, group_size: int) -> torch.Tensor:
    """The docstring's statistic, computed per image: groups of g images (g the largest divisor
    of N not above group_size; image i is in group i mod N/g, so members are spread across the
    batch); the population std of every feature over the group's images, averaged over
    features and positions. Returns (N,) in float64."""
    n = x.shape[0]
    g = max(d for d in range(1, min(n, group_size) + 1) if n % d == 0)
    n_groups = n // g
    x = x.double()
    out = torch.empty(n, dtype=torch.float64)
    for m in range(n_groups):
        members = x[m::n_groups]  # (g, ...)
        assert members.shape[0] == g
        std = (members - members.mean(dim=0)).pow(2).mean(dim=0).sqrt()
        out[m::n_groups] = std.mean()
    return out


@pytest.mark.parametrize("shape", [(8, 3, 5, 5), (6, 2, 4, 4), (8, 10)])
def test_minibatch_stddev_channel_is_the_group_standard_deviation(shape):
    layer = stddev_layer_class()(group_size=4)
    torch.manual_seed(0)
    x = torch.randn(*shape) * torch.linspace(0.5, 2.0, shape[1]).reshape(1, -1, *[1] * (len(shape) - 2))
    out = layer(x)
    assert out.shape == (shape[0], shape[1] + 1, *shape[2:])
    assert torch.equal(out[:, :shape[1]], x)  # the input passes through
    extra = out[:, shape[1]]
    want = expected_group_stat(x, 4)
    # one value per image, the same at every position of its map
    per_image = extra.reshape(shape[0], -1)
    assert torch.equal(per_image, per_image[:, :1].expand_as(per_image))
    torch.testing.assert_close(per_image[:, 0].double(), want, rtol=1e-5, atol=1e-6)


def test_minibatch_stddev_changes_with_one_image_for_its_group_only():
    layer = stddev_layer_class()(group_size=4)
    torch.manual_seed(0)
    x = torch.randn(8, 3, 5, 5)
    before = layer(x)[:, 3, 0, 0]
    x2 = x.clone()
    x2[0] = 3 * torch.randn(3, 5, 5)
    after = layer(x2)[:, 3, 0, 0]
    torch.testing.assert_close(after.double(), expected_group_stat(x2, 4), rtol=1e-5, atol=1e-6)
    changed = (after - before).abs() > 1e-4
    # 8 images in groups of 4: image 0 shares its group with images 2, 4 and 6
    assert changed.tolist() == [True, False, True, False, True, False, True, False]


def test_minibatch_stddev_inside_D_sees_its_input_and_appends_that_statistic():
    _, D = build("dcgan", minibatch_stddev=True)
    seen = []
    for m in D.modules():
        if type(m).__name__ == "MinibatchStdDev":
            m.register_forward_hook(lambda mod, args, out: seen.append((args[0].detach(), out.detach(), mod)))
    D.train()
    D(torch.rand(8, 1, 28, 28) * 2 - 1)
    assert len(seen) == 1
    inp, out, mod = seen[0]
    c = inp.shape[1]
    assert out.shape[1] == c + 1
    want = expected_group_stat(inp, mod.group_size)
    torch.testing.assert_close(out[:, c].reshape(8, -1)[:, 0].double(), want, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- instance noise


def test_instance_noise_is_zero_mean_gaussian_with_the_asked_std():
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 10**6).reshape(250, 1, 40, 100)  # 1e6 values, not zeros
    keep = x.clone()
    std = 0.3
    out = add_instance_noise(x, std)
    assert torch.equal(x, keep), "the input is not changed in place"
    assert out.shape == x.shape and out.dtype == x.dtype
    noise = (out - x).double()
    assert noise.std().item() == pytest.approx(std, rel=0.01)
    assert abs(noise.mean().item()) < 5 * std / math.sqrt(noise.numel())
    # Gaussian, not uniform or a constant offset: 68.3% within one std, and kurtosis 3
    assert (noise.abs() < std).double().mean().item() == pytest.approx(0.6827, abs=0.003)
    assert (noise.pow(4).mean() / noise.pow(2).mean() ** 2).item() == pytest.approx(3.0, abs=0.05)
    # independent per value: each image has the full std over its own pixels, and a second call
    # draws new noise
    per_image = noise.reshape(250, -1).std(dim=1)
    assert per_image.min().item() > 0.9 * std and per_image.max().item() < 1.1 * std
    again = (add_instance_noise(x, std) - x).double()
    assert abs(torch.corrcoef(torch.stack([noise.flatten(), again.flatten()]))[0, 1].item()) < 0.01


def test_instance_noise_keeps_bf16_and_channels_last_and_is_off_at_zero():
    x = torch.rand(4, 3, 8, 8).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    out = add_instance_noise(x, 0.1)
    assert out.dtype == torch.bfloat16 and out.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(out, x)
    assert add_instance_noise(x, 0.0) is x


def test_instance_noise_is_the_same_draw_in_either_memory_layout():
    x = torch.rand(4, 3, 8, 8)
    torch.manual_seed(0)
    nchw = add_instance_noise(x, 0.1)
    torch.manual_seed(0)
    nhwc = add_instance_noise(x.contiguous(memory_format=torch.channels_last), 0.1)
    assert nhwc.is_contiguous(memory_format=torch.channels_last) and not nhwc.is_contiguous()
    assert torch.equal(nchw, nhwc)


def test_instance_noise_std_anneals_linearly_to_zero_at_the_given_step():
    std0, steps = 0.2, 40
    for step in range(0, 2 * steps):
        want = std0 * (1 - step / steps) if step < steps else 0.0
        assert instance_noise_std(step, std0, steps) == pytest.approx(want, abs=1e-12), step
    assert instance_noise_std(10, std0, 0) == 0.0
