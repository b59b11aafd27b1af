"""DiffAugment and the ADA probability controller."""
import pytest
import torch

from ganforge.train.tricks import AdaController, _saturation, diff_augment

ALL = ["color", "translation", "cutout"]


def test_p_zero_and_no_ops_are_the_identity():
    x = torch.randn(4, 3, 8, 8)
    assert diff_augment(x, ALL, 0.0) is x
    assert diff_augment(x, [], 1.0) is x
    with pytest.raises(ValueError, match="unknown"):
        diff_augment(x, ["rotate"], 1.0)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("channels_last", [False, True])
def test_shape_dtype_layout_kept_and_gradient_reaches_input(channels, dtype, channels_last):
    torch.manual_seed(0)
    x = torch.rand(4, channels, 16, 16, dtype=dtype) * 2 - 1
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    out = diff_augment(x, ALL, 1.0)
    assert out.shape == x.shape and out.dtype == dtype
    if channels_last and channels > 1:
        assert out.is_contiguous(memory_format=torch.channels_last)
    (out.float() * torch.randn(out.shape)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_moves_content_by_at_most_an_eighth():
    torch.manual_seed(0)
    x = torch.zeros(32, 1, 32, 32)
    x[:, :, 16, 16] = 1.0
    out = diff_augment(x, ["translation"], 1.0)
    shifts = set()
    for img in out[:, 0]:
        assert img.sum() == 1.0 and (img > 0).sum() == 1  # the dot moved, nothing else appeared
        r, c = divmod(int(img.argmax()), 32)
        assert abs(r - 16) <= 4 and abs(c - 16) <= 4
        shifts.add((r - 16, c - 16))
    assert len(shifts) > 10


def test_cutout_zeroes_at_most_a_half_side_square():
    torch.manual_seed(0)
    out = diff_augment(torch.ones(16, 1, 16, 16), ["cutout"], 1.0)
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 8 * 8 and (zeros > 0).all()


def test_each_image_is_augmented_with_probability_p():
    torch.manual_seed(0)
    x = torch.rand(400, 3, 4, 4)
    same = (diff_augment(x, ["color"], 0.5) == x).flatten(1).all(dim=1).float().mean().item()
    # untouched only if none of brightness, saturation, contrast fired: 0.5 ** 3
    assert abs(same - 0.125) < 0.05


def test_saturation_leaves_grey_images_alone():
    torch.manual_seed(0)
    x = torch.rand(3, 1, 4, 4)
    assert _saturation(x, 1.0) is x


def test_ada_raises_p_while_D_overfits_and_lowers_it_after():
    ada = AdaController(target=0.6, batch_size=64, speed_kimg=2.56, interval=4)  # one move = 0.1
    assert ada.adjust_size == pytest.approx(0.1)
    over = torch.full((64,), 3.0)  # every real logit positive: r_t = 1 > 0.6
    for _ in range(4 * 5):
        ada.accumulate(over)
    assert ada.r_t == 1.0 and ada.p == pytest.approx(0.5)
    for _ in range(4 * 20):
        ada.accumulate(over)
    assert ada.p == 1.0  # clamped
    under = torch.tensor([1.0, -1.0, -1.0, -1.0])  # r_t = -0.5 < 0.6
    for _ in range(4 * 3):
        ada.accumulate(under)
    assert ada.r_t == -0.5 and ada.p == pytest.approx(0.7)


def test_ada_adjusts_only_every_interval_and_state_round_trips():
    ada = AdaController(target=0.6, batch_size=8, speed_kimg=0.08, interval=4)  # one move = 0.4
    for _ in range(3):
        ada.accumulate(torch.ones(8))
    assert ada.p == 0.0 and ada.r_t is None
    state = ada.state_dict()
    other = AdaController(target=0.6, batch_size=8, speed_kimg=0.08, interval=4)
    other.load_state_dict(state)
    assert ada.accumulate(torch.ones(8)) == other.accumulate(torch.ones(8)) == pytest.approx(0.4)


def test_ada_on_the_device_moves_p_exactly_as_on_the_host():
    """On CUDA the controller keeps p on the device (no host sync every 4 D steps); the float64
    arithmetic there gives the host's p bit for bit. Device mode is forced here on CPU tensors."""
    host = AdaController(target=0.6, batch_size=64, speed_kimg=2.56, interval=4)
    dev = AdaController(target=0.6, batch_size=64, speed_kimg=2.56, interval=4)
    dev.on_device = True
    dev.p = dev._as_p(0.0)
    assert torch.is_tensor(dev.p)
    g = torch.Generator().manual_seed(0)
    for i in range(64):
        logits = torch.randn(64, generator=g) + (1.5 if i < 32 else -1.0)  # overfitting, then not
        host.accumulate(logits)
        dev.accumulate(logits)
        assert float(dev.p) == host.p
        if host.r_t is not None:
            assert float(dev.r_t) == host.r_t
    assert 0 < host.p < 1
    assert dev.state_dict() == host.state_dict()
    # a tensor probability drives the augmentation without being read back
    x = torch.randn(8, 1, 12, 12)
    assert diff_augment(x, ["translation"], torch.tensor(0.0, dtype=torch.float64)).equal(x)
    assert not diff_augment(x, ["cutout"], torch.tensor(1.0, dtype=torch.float64)).equal(x)
