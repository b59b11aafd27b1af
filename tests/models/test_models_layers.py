"""TF-'same' padding and Keras initialisers: the pieces that make the seed models match Keras."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.config import ModelConfig
from ganforge.models import build_models
from ganforge.models.layers_fast import use_mirrored_padding
from ganforge.models.layers_keras import (
    HE_NORMAL_TRUNC_CORRECTION,
    SameConv2d,
    SameConvTranspose2d,
    glorot_uniform_,
    init_weights,
    tf_same_pads,
)

# (input size, kernel, stride): symmetric and asymmetric splits, odd and even sizes, k < s.
CONV_CASES = [(28, 5, 2), (14, 5, 2), (28, 3, 2), (7, 5, 2), (16, 5, 1), (16, 7, 1), (9, 4, 2), (8, 4, 2), (6, 1, 3)]


def test_same_pads_follow_tensorflow_formula():
    # Worked by hand from TF's rule: out = ceil(n / s), total = max((out - 1) * s + k - n, 0), extra pad after.
    assert tf_same_pads(28, 5, 2) == (1, 2)
    assert tf_same_pads(28, 3, 2) == (0, 1)
    assert tf_same_pads(7, 5, 2) == (2, 2)
    assert tf_same_pads(16, 5, 1) == (2, 2)
    assert tf_same_pads(32, 4, 2) == (1, 1)


def test_same_conv_known_tensorflow_result():
    # tf.nn.conv2d(ones(4x4), ones(3x3), strides=2, padding="SAME") == [[9, 6], [6, 4]]:
    # TF pads only bottom/right, so the first window is fully inside the image.
    conv = SameConv2d(1, 1, 3, stride=2, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    out = conv(torch.ones(1, 1, 4, 4))
    assert out[0, 0].tolist() == [[9.0, 6.0], [6.0, 4.0]]


@pytest.mark.parametrize("size,k,s", CONV_CASES)
def test_same_conv_matches_reference_windows(size, k, s):
    # Reference independent of our padding code: a stride-1 conv padded by k-1 everywhere has a
    # window starting at every offset from -(k-1); TF's output i starts at i*s - top.
    torch.manual_seed(0)
    conv = SameConv2d(2, 3, k, stride=s)
    x = torch.randn(2, 2, size, size)
    top, _ = tf_same_pads(size, k, s)
    full = F.conv2d(x, conv.weight, conv.bias, padding=k - 1)
    n_out = math.ceil(size / s)
    first = k - 1 - top
    ref = full[..., first::s, first::s][..., :n_out, :n_out]
    out = conv(x)
    assert out.shape == (2, 3, n_out, n_out)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_same_conv_transpose_known_tensorflow_result():
    # Conv2DTranspose(1, 3, strides=2, padding="same") on ones(2x2): the full transposed output
    # covers rows [1, 1, 2, 1, 1]; TF's 'same' keeps the first four (the forward conv padded 0 before, 1 after).
    deconv = SameConvTranspose2d(1, 1, 3, stride=2, bias=False)
    with torch.no_grad():
        deconv.weight.fill_(1.0)
    out = deconv(torch.ones(1, 1, 2, 2))[0, 0]
    row = torch.tensor([1.0, 1.0, 2.0, 1.0])
    torch.testing.assert_close(out, torch.outer(row, row))


@pytest.mark.parametrize("size,k,s", [(7, 5, 2), (14, 5, 2), (7, 5, 1), (16, 4, 2), (5, 3, 2), (4, 1, 2), (3, 2, 3)])
def test_same_conv_transpose_is_gradient_of_same_conv(size, k, s):
    # TF defines conv2d_transpose(padding="SAME") as the gradient of conv2d(padding="SAME") w.r.t.
    # its input. Check ours against autograd's vector-Jacobian product of our SameConv2d.
    torch.manual_seed(0)
    deconv = SameConvTranspose2d(4, 3, k, stride=s, bias=False)  # maps 4 -> 3 channels, size -> size*s
    conv = SameConv2d(3, 4, k, stride=s, bias=False)  # the forward op it is the gradient of
    with torch.no_grad():
        conv.weight.copy_(deconv.weight)
    v = torch.randn(2, 4, size, size)
    x = torch.zeros(2, 3, size * s, size * s, requires_grad=True)
    y = conv(x)
    assert y.shape == v.shape
    (vjp,) = torch.autograd.grad(y, x, v)
    out = deconv(v)
    assert out.shape == (2, 3, size * s, size * s)
    torch.testing.assert_close(out, vjp, atol=1e-5, rtol=1e-5)


def _glorot_limit(w):
    rec = math.prod(w.shape[2:]) if w.dim() > 2 else 1
    return math.sqrt(6.0 / (w.shape[0] * rec + w.shape[1] * rec))


def test_keras_init_is_glorot_uniform_with_zero_biases():
    torch.manual_seed(0)
    G, D = build_models(ModelConfig(arch="chollet-cifar10", z_dim=32, init="keras"), 3, 32)
    checked = 0
    for m in list(G.modules()) + list(D.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            w = m.weight.detach()
            limit = _glorot_limit(w)
            assert w.abs().max() <= limit
            if w.numel() >= 5000:  # enough draws for the std to be tight
                assert abs(w.std().item() - limit / math.sqrt(3)) < 0.03 * limit / math.sqrt(3)
            assert torch.count_nonzero(m.bias) == 0
            checked += 1
    assert checked == 11


def test_keras_init_transposed_conv_fans_and_batchnorm():
    torch.manual_seed(0)
    G, _ = build_models(ModelConfig(arch="tf-tutorial", init="keras"), 1, 28)
    deconv = G.net.deconv1  # Keras kernel (5, 5, 128, 256): fans 25*128 and 25*256
    limit = math.sqrt(6.0 / (25 * 128 + 25 * 256))
    assert deconv.weight.abs().max() <= limit
    assert abs(deconv.weight.std().item() - limit / math.sqrt(3)) < 0.01 * limit
    for bn in (G.net.bn0, G.net.bn1, G.net.bn2):
        assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
        # Keras defaults: momentum=0.99 (keep 99% of the running stat), epsilon=1e-3
        assert bn.momentum == pytest.approx(0.01) and bn.eps == pytest.approx(1e-3)


def test_geron_dense_uses_he_normal_where_the_seed_names_it():
    torch.manual_seed(0)
    G, D = build_models(ModelConfig(arch="geron-dense", z_dim=30, init="keras"), 1, 28)
    for layer in (D.net.fc1, D.net.fc2, G.net.fc2):  # fan_in 784, 150, 100
        w = layer.weight.detach()
        std = math.sqrt(2.0 / w.shape[1])
        assert w.abs().max() <= 2 * std / HE_NORMAL_TRUNC_CORRECTION + 1e-6  # truncated at 2 (widened) std
        assert abs(w.std().item() - std) < 0.05 * std
    # the output layers name no initializer: glorot-uniform
    assert G.net.fc3.weight.abs().max() <= _glorot_limit(G.net.fc3.weight)


def test_dcgan_init_and_torch_init():
    torch.manual_seed(0)
    G, D = build_models(ModelConfig(arch="dcgan", init="dcgan"), 3, 64)
    w = G.net[1].weight
    assert abs(w.std().item() - 0.02) < 0.001 and abs(w.mean().item()) < 0.001
    gammas = torch.cat([m.weight.detach() for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(gammas.mean().item() - 1.0) < 0.005 and 0.01 < gammas.std().item() < 0.03
    G, D = build_models(ModelConfig(arch="tf-tutorial", init="torch"), 1, 28)
    assert torch.count_nonzero(D.net.conv1.bias) > 0  # PyTorch's own default draws biases


def test_same_seed_gives_identical_weights():
    def weights(seed, arch="tf-tutorial"):
        torch.manual_seed(seed)
        G, D = build_models(ModelConfig(arch=arch, z_dim=30), 1, 28)
        return [t.clone() for t in list(G.state_dict().values()) + list(D.state_dict().values())]

    a, b, c = weights(1), weights(1), weights(2)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))
    assert all(torch.equal(x, y) for x, y in zip(weights(3, "geron-dense"), weights(3, "geron-dense")))


def test_init_rejects_unknown_scheme():
    with pytest.raises(ValueError, match="unknown init"):
        init_weights(nn.Linear(2, 2), "xavier")
    w = torch.empty(10, 20)
    assert glorot_uniform_(w).abs().max() <= math.sqrt(6 / 30)


# --------------------------------------------------------------------------- mirrored frames


def _assert_mirrored_copy_matches(layer, x):
    """A copy of ``layer`` in a mirrored frame of its own (flips in and out) gives the same
    output and the same gradients (input, weight, bias), in float64 so that any difference
    beyond rounding would show."""
    mirrored = copy.deepcopy(layer)
    mirrored.mirror.active = mirrored.mirror.flip_in = mirrored.mirror.flip_out = True
    x = x.requires_grad_()
    y, y_m = layer(x), mirrored(x)
    assert y_m.shape == y.shape
    torch.testing.assert_close(y_m, y, atol=1e-12, rtol=1e-12)
    v = torch.randn_like(y)
    grads = torch.autograd.grad(y, [x, layer.weight, layer.bias], v)
    grads_m = torch.autograd.grad(y_m, [x, mirrored.weight, mirrored.bias], v)
    for g, g_m in zip(grads, grads_m):
        torch.testing.assert_close(g_m, g, atol=1e-12, rtol=1e-12)
    return y


@pytest.mark.parametrize("size,k,s", CONV_CASES + [(14, 4, 1), (9, 6, 1), (13, 5, 3)])
def test_mirrored_same_conv_is_the_same_function(size, k, s):
    torch.manual_seed(0)
    conv = SameConv2d(2, 3, k, stride=s).double()
    _assert_mirrored_copy_matches(conv, torch.randn(2, 2, size, size, dtype=torch.float64))


@pytest.mark.parametrize("size,k,s", [(7, 5, 2), (14, 5, 2), (7, 5, 1), (16, 4, 2), (5, 3, 2), (6, 4, 1), (5, 6, 3),
                                      (4, 1, 2), (3, 2, 3)])
def test_mirrored_same_conv_transpose_is_the_same_function(size, k, s):
    torch.manual_seed(0)
    deconv = SameConvTranspose2d(4, 3, k, stride=s).double()
    y = _assert_mirrored_copy_matches(deconv, torch.randn(2, 4, size, size, dtype=torch.float64))
    assert y.shape == (2, 3, size * s, size * s)


def test_mirrored_frames_span_the_asymmetric_convs_only():
    from ganforge.models.seeds import CholletGenerator, TFTutorialDiscriminator, TFTutorialGenerator

    G, D = TFTutorialGenerator(), TFTutorialDiscriminator()
    assert use_mirrored_padding(G) == 1 and use_mirrored_padding(D) == 1
    roles = {name: (m.mirror.active, m.mirror.flip_in, m.mirror.flip_out)
             for name, m in G.net.named_children() if hasattr(m, "mirror")}
    # deconv1 (k5 s1) pads symmetrically: the frame starts at deconv2 and ends after deconv3
    assert roles == {"deconv1": (False, False, False), "deconv2": (True, True, False),
                     "deconv3": (True, False, True)}
    assert (D.net.conv1.mirror.flip_in, D.net.conv2.mirror.flip_out) == (True, True)
    assert "mirrored" in repr(D.net.conv2)
    # nothing to gain where every 'same' conv pads symmetrically; the state dict is unchanged
    chollet = CholletGenerator()
    keys = list(chollet.state_dict())
    assert use_mirrored_padding(chollet) == 0
    assert list(chollet.state_dict()) == keys
    # a layer that is not per-pixel ends the run: two frames
    net = nn.Sequential(SameConv2d(1, 2, 5, stride=2), nn.LeakyReLU(), nn.Flatten(), nn.Unflatten(1, (2, 4, 4)),
                        SameConv2d(2, 2, 5, stride=2))
    assert use_mirrored_padding(net) == 2
    assert net[0].mirror.flip_in and net[0].mirror.flip_out and net[4].mirror.flip_in


@pytest.mark.parametrize("arch", ["tf-tutorial", "geron-dcgan"])
def test_mirrored_models_compute_the_same_outputs_and_gradients(arch):
    torch.manual_seed(0)
    G, D = build_models(ModelConfig(arch=arch, d_dropout=0.0), 1, 28)
    G, D = G.double(), D.double()
    G_m, D_m = copy.deepcopy(G), copy.deepcopy(D)
    assert use_mirrored_padding(G_m) == 1 and use_mirrored_padding(D_m) == 1
    z = torch.randn(8, G.z_dim, dtype=torch.float64)
    out, out_m = D(G(z)), D_m(G_m(z))  # train mode: BatchNorm uses batch statistics
    torch.testing.assert_close(out_m, out, atol=1e-10, rtol=1e-10)
    params = [*G.parameters(), *D.parameters()]
    params_m = [*G_m.parameters(), *D_m.parameters()]
    for g, g_m in zip(torch.autograd.grad(out.sum(), params), torch.autograd.grad(out_m.sum(), params_m)):
        torch.testing.assert_close(g_m, g, atol=1e-10, rtol=1e-10)
