"""Every architecture: sizes, parameter counts against the seeds, ranges, errors, bf16, channels-last."""
import pytest
import torch
from torch import nn

from ganforge.config import ModelConfig
from ganforge.errors import ConfigError
from ganforge.models import ARCHS, build_models, count_params, layer_param_counts, register_arch

Z = {"geron-dense": 30, "chollet-cifar10": 32}  # the seeds' latent sizes; 100 elsewhere

# Every buildable (arch, size) pair.
CASES = [(name, size) for name, spec in ARCHS.items() for size in spec.sizes]


def build(arch, channels=1, size=None, **kw):
    size = size or ARCHS[arch].sizes[0]
    if arch in ("progan", "stylegan2"):  # narrow (min(256 // r, 8) channels), so 1024 px stays quick
        kw = {"channel_base": 256, "channel_max": 8, **kw}
    cfg = ModelConfig(arch=arch, z_dim=kw.pop("z_dim", Z.get(arch, 100)), **kw)
    return build_models(cfg, channels, size)


@pytest.mark.parametrize("arch,z,c,g_params,d_params", [
    ("tf-tutorial", 100, 1, 2_305_472, 212_865),
    ("geron-dense", 30, 1, 136_634, 132_951),
    ("geron-dcgan", 100, 1, 840_321, 212_865),
    ("chollet-cifar10", 32, 3, 6_264_579, 790_913),
])
def test_trainable_params_match_keras_seeds(arch, z, c, g_params, d_params):
    G, D = build(arch, c, z_dim=z)
    assert (count_params(G), count_params(D)) == (g_params, d_params)


def test_chollet_layer_table_matches_seed_000():
    G, D = build("chollet-cifar10", 3, z_dim=32)
    # the Param # column of seed 000's generator.summary() and discriminator.summary()
    assert [n for _, n in layer_param_counts(G)] == [1_081_344, 819_456, 1_048_832, 1_638_656, 1_638_656, 37_635]
    assert [n for _, n in layer_param_counts(D)] == [3_584, 262_272, 262_272, 262_272, 513]
    assert [name for name, _ in layer_param_counts(G)][:3] == ["net.fc", "net.conv1", "net.deconv"]


def test_bilinear_upsample_counts_from_layer_shapes():
    G, D = build("bilinear-upsample", 1)
    g_expected = [
        100 * 14400 + 14400,  # Dense(12*12*100) from z=100
        2 * 14400,  # BatchNormalization over the 14400 dense features (gamma, beta)
        3 * 3 * 100 * 128 + 128,  # Conv2D(128, 3) on 100 channels
        2 * 128,  # BN
        3 * 3 * 128 * 64 + 64,  # Conv2D(64, 3)
        2 * 64,  # BN
        5 * 5 * 64 * 32 + 32,  # Conv2D(32, 5)
        2 * 32,  # BN
        5 * 5 * 32 * 1 + 1,  # Conv2D(1, 5), no activation
    ]
    d_expected = [
        3 * 3 * 1 * 64 + 64,  # Conv2D(64, 3, s2, same)
        5 * 5 * 64 * 128 + 128,  # Conv2D(128, 5, s2, same): 28 -> 14 -> 7
        7 * 7 * 128 + 1,  # Dense(1)
    ]
    assert [n for _, n in layer_param_counts(G)] == g_expected
    assert [n for _, n in layer_param_counts(D)] == d_expected
    assert (count_params(G), count_params(D)) == (1_724_801, 211_841)


def test_count_params_skips_frozen_weights_and_batchnorm_buffers():
    G, _ = build("geron-dcgan")
    n = count_params(G)
    # Keras' "Trainable params" of seed 004's generator; its BatchNorm running mean/var are not in it
    assert n == 840_321 and sum(b.numel() for b in G.buffers()) > 0
    G.net.fc.weight.requires_grad_(False)
    assert count_params(G) == n - 100 * 7 * 7 * 128


@pytest.mark.parametrize("arch,size", CASES)
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_output_range(arch, size, channels):
    torch.manual_seed(0)
    G, D = build(arch, channels, size)
    spec = ARCHS[arch]
    assert (G.z_dim, G.img_channels, G.img_size, G.output) == (Z.get(arch, 100), channels, size, spec.output)
    z = 3 * torch.randn(3, G.z_dim)  # wide noise to push the output towards its limits
    x = G(z)
    assert x.shape == (3, channels, size, size) and x.dtype == torch.float32
    if spec.output == "tanh":
        assert x.min() >= -1 and x.max() <= 1
    elif spec.output == "sigmoid":
        assert x.min() >= 0 and x.max() <= 1
    logits = D(x)
    assert logits.shape == (3,) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


def test_discriminators_return_logits_not_probabilities():
    # Keras seeds end in a sigmoid; ours must not (BCE-from-logits applies it stably).
    for arch in ARCHS:
        _, D = build(arch)
        assert not isinstance(list(D.modules())[-1], nn.Sigmoid), arch
        assert not any(isinstance(m, nn.Sigmoid) for m in D.modules()), arch
    _, D = build("tf-tutorial")
    with torch.no_grad():
        D.net.fc.bias.fill_(50.0)
    assert (D.eval()(torch.zeros(2, 1, 28, 28)) > 1).all()


def test_dcgan_widths_follow_config_and_seeds_ignore_them():
    G, D = build("dcgan", 3, 64, g_channels=32, d_channels=16)
    assert G.net[1].out_channels == 32 * 8 and D.features[0].out_channels == 16
    small = count_params(G)
    G, _ = build("dcgan", 3, 64, g_channels=64)
    assert count_params(G) > 3 * small
    a, _ = build("tf-tutorial", g_channels=8, d_channels=8)
    assert count_params(a) == 2_305_472


def test_dropout_defaults_and_override():
    def rates(D):
        return {m.p for m in D.modules() if isinstance(m, nn.Dropout)}

    for arch, spec in ARCHS.items():
        if arch in ("progan", "stylegan2"):  # no dropout in the papers' Ds, and --d-dropout refused
            continue  # (test_models_progan.py, tests/train/test_stylegan_training.py)
        _, D = build(arch)
        assert rates(D) == {spec.default_dropout}, arch
    _, D = build("geron-dcgan", d_dropout=0.1)
    assert rates(D) == {0.1}
    _, D = build("dcgan", d_dropout=0.25)
    assert rates(D) == {0.25}


def test_unknown_arch_names_the_flag_and_lists_known():
    with pytest.raises(ConfigError, match=r"--arch: unknown architecture 'stylegan'.*dcgan"):
        build_models(ModelConfig(arch="stylegan"), 1, 28)


def test_unsupported_size_names_the_flag_and_sizes():
    with pytest.raises(ConfigError, match=r"--size.*'tf-tutorial'.*28.*not 64.*dcgan"):
        build_models(ModelConfig(arch="tf-tutorial"), 1, 64)
    with pytest.raises(ConfigError, match=r"--size.*28, 32, 64.*not 48"):
        build_models(ModelConfig(arch="dcgan"), 1, 48)


def test_bad_channels_and_init_name_the_flag():
    with pytest.raises(ConfigError, match="--channels"):
        build_models(ModelConfig(arch="dcgan"), 2, 32)
    with pytest.raises(ConfigError, match="--init"):
        build_models(ModelConfig(arch="dcgan", init="xavier"), 1, 32)


def test_wrong_input_shapes_give_clear_errors():
    G, D = build("tf-tutorial")
    with pytest.raises(ValueError, match=r"\(N, 100\)"):
        G(torch.randn(2, 64))
    with pytest.raises(ValueError, match=r"\(N, 100\)"):
        G(torch.randn(2, 100, 1, 1))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        D(torch.randn(2, 3, 28, 28))


def test_registry_entries_are_consistent():
    for name, spec in ARCHS.items():
        assert spec.name == name and spec.output in ("tanh", "sigmoid", "linear") and spec.description
        assert spec.native_size is None or spec.native_size in spec.sizes
    assert set(ARCHS) == {"tf-tutorial", "geron-dense", "geron-dcgan", "chollet-cifar10", "bilinear-upsample", "dcgan",
                          "progan", "stylegan2"}
    with pytest.raises(ValueError, match="twice"):
        register_arch("dcgan", output="tanh", native_size=None, sizes=(32,), default_dropout=0.0,
                      description="dup")(lambda cfg, c, s: None)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_bf16_autocast_forward_backward(arch):
    torch.manual_seed(0)
    G, D = build(arch, 3)
    if arch == "progan":  # the last stage mid-fade: every block but the older toRGB/fromRGB layers runs
        for net in (G, D):
            net.set_stage(len(net.resolutions) - 1, 0.5)
    z = torch.randn(2, G.z_dim)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = D(G(z))
    assert logits.dtype == torch.float32 and logits.shape == (2,)
    logits.sum().backward()
    for net in (G, D):
        unused = {f"{rgb}.{i}." for rgb in ("to_rgb", "from_rgb") for i in range(len(getattr(net, "resolutions", [])) - 2)}
        grads = [p.grad for name, p in net.named_parameters() if not any(name.startswith(u) for u in unused)]
        assert all(g is not None and torch.isfinite(g).all() for g in grads), arch
        assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("arch,size", CASES)
def test_channels_last_matches_contiguous(arch, size):
    torch.manual_seed(0)
    G, D = build(arch, 3, size)
    G.eval()  # no dropout; BatchNorm from running statistics
    D.eval()
    z = torch.randn(2, G.z_dim)
    with torch.no_grad():
        x_ref = G(z)
        logits_ref = D(x_ref)
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
        x = G(z)
        logits = D(x.contiguous(memory_format=torch.channels_last))
    # (the same function; the convolutions' summation order differs by layout)
    torch.testing.assert_close(x, x_ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logits, logits_ref, atol=1e-4, rtol=1e-4)
