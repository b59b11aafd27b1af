"""Inception-v3 (FID layout): weights lookup, loading and the feature plumbing.

The real FID weights are not available in tests, so a RANDOM-WEIGHT network stands in: it
checks layout, state-dict names, loading and shapes only, never feature values.
"""
from __future__ import annotations

import pytest
import torch

from ganforge.metrics.inception import WEIGHTS_NAME, FIDInceptionV3, find_inception_weights, load_inception
from ganforge.metrics.networks import EvaluatorError


@pytest.fixture(scope="module")
def random_weights_file(tmp_path_factory):
    """A state dict of a randomly initialised FIDInceptionV3, saved like the published file."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("inception") / WEIGHTS_NAME
    torch.save(FIDInceptionV3().state_dict(), path)
    return path


def test_layout_matches_the_fid_network():
    net = FIDInceptionV3()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 94  # Inception-v3's conv layers
    sd = net.state_dict()
    assert sd["fc.weight"].shape == (1008, 2048)
    assert sd["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert sd["Mixed_7c.branch3x3dbl_3b.bn.running_var"].shape == (384,)
    assert net.Mixed_7c.max_pool and not net.Mixed_7b.max_pool


def test_random_weight_network_gives_2048_features_for_grey_28px_images(random_weights_file, cache):
    ex = load_inception(random_weights_file)
    assert ex.name == "inception-v3-fid" and ex.feature_dim == 2048 and len(ex.hash) == 12
    images = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    feats, probs = ex(images)
    assert feats.shape == (2, 2048) and probs.shape == (2, 1008)
    assert torch.isfinite(feats).all() and torch.allclose(probs.sum(1), torch.ones(2))
    assert "grey replicated to RGB" in ex.resize_rule(1, 28) and "299x299" in ex.resize_rule(1, 28)


def test_weights_are_found_by_flag_then_env_then_cache(random_weights_file, cache, monkeypatch):
    assert find_inception_weights(required=False) is None
    monkeypatch.setenv("GANFORGE_INCEPTION", str(random_weights_file))
    assert find_inception_weights() == random_weights_file
    with pytest.raises(EvaluatorError, match="--inception-weights"):
        find_inception_weights(cache / "missing.pth")
    monkeypatch.delenv("GANFORGE_INCEPTION")
    (cache / "evaluators").mkdir(parents=True)
    (cache / "evaluators" / WEIGHTS_NAME).write_bytes(random_weights_file.read_bytes())
    assert find_inception_weights() == cache / "evaluators" / WEIGHTS_NAME


def test_missing_or_wrong_weights_say_how_to_get_them(cache, tmp_path):
    with pytest.raises(EvaluatorError, match="download https://.*pt_inception"):
        load_inception()
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(EvaluatorError, match="not the FID Inception-v3 weights"):
        load_inception(wrong)
