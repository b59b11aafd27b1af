"""Evaluator networks: the training recipe on a tiny synthetic task, the file format, the hash."""
from __future__ import annotations

import torch

from ganforge.data import ImageData
from ganforge.metrics.classifier_training import _random_shift, fit_evaluator
from ganforge.metrics.networks import EVALUATOR_SPECS, ClassifierNet, load_evaluator_file, save_evaluator, weights_hash


def _stripes(n: int, seed: int) -> ImageData:
    """Two classes a tiny CNN learns at once: horizontal vs vertical bright bars (1x28x28)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.zeros(n, 1, 28, 28, dtype=torch.uint8)
    pos = torch.randint(4, 24, (n,), generator=g)
    for i in range(n):
        if labels[i] == 0:
            images[i, 0, pos[i]:pos[i] + 3, :] = 255
        else:
            images[i, 0, :, pos[i]:pos[i] + 3] = 255
    return ImageData(images=images, labels=labels, class_names=["h", "v"], name="stripes", source_path=None)


def test_fit_save_load_round_trip(tmp_path):
    """Not the real evaluator: a 2-class toy task with a tiny net, to check the recipe and file."""
    spec = EVALUATOR_SPECS["fashion-mnist"]
    net, meta = fit_evaluator(_stripes(256, 0), _stripes(64, 1), spec, epochs=2, batch_size=32,
                              widths=(4, 8, 8), progress=False)
    assert meta["test_accuracy"] > 0.9 and meta["dataset"] == "fashion-mnist"
    path = save_evaluator(net, meta, tmp_path / "toy.pt")
    ex = load_evaluator_file(path, "fashion-mnist")  # weights_only=True: plain types only
    assert ex.hash == weights_hash(net.state_dict()) == ex.meta["hash"]
    assert isinstance(ex.meta["torch"], str) and ex.meta["test_accuracy"] == meta["test_accuracy"]
    feats, probs = ex(_stripes(8, 2).images)
    assert feats.shape == (8, 8) and probs.shape == (8, 10)


def test_weights_hash_depends_on_every_tensor_and_nothing_else():
    a = ClassifierNet(widths=(4, 4, 8)).state_dict()
    b = {k: v.clone() for k, v in reversed(list(a.items()))}  # same weights, other order and storage
    assert weights_hash(a) == weights_hash(b) and len(weights_hash(a)) == 12
    b["body.0.weight"][0, 0, 0, 0] += 1e-3
    assert weights_hash(a) != weights_hash(b)
    b = dict(a)
    b["body.1.num_batches_tracked"] = torch.tensor(5)
    assert weights_hash(a) != weights_hash(b)


def test_random_shift_moves_each_image_by_at_most_the_padding():
    x = torch.zeros(64, 1, 28, 28, dtype=torch.uint8)
    x[:, :, 14, 14] = 255
    y = _random_shift(x, 2, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.dtype == torch.uint8
    where = (y[:, 0] == 255).nonzero()[:, 1:]
    assert where.shape[0] == 64 and ((where - 14).abs() <= 2).all()
    assert len({tuple(w.tolist()) for w in where}) > 5  # images get different offsets


def test_the_shipped_fashion_mnist_evaluator_loads_without_a_cache(tmp_path, monkeypatch):
    from ganforge.metrics.networks import load_evaluator
    from ganforge.metrics.shipped import SHIPPED, shipped_file

    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "empty-cache"))
    ex = load_evaluator("fashion-mnist")
    assert ex.hash == SHIPPED["fashion-mnist"] and shipped_file("fashion-mnist") is not None
    assert ex.meta["test_accuracy"] >= EVALUATOR_SPECS["fashion-mnist"].min_accuracy
    assert shipped_file("fashion-mnist").stat().st_size < 4 * 2**20  # a few MB at most
    assert shipped_file("mnist") is None


def test_a_users_own_evaluator_in_the_cache_wins_and_a_swapped_package_file_is_refused(tmp_path, monkeypatch):
    import pytest

    from ganforge.metrics import shipped
    from ganforge.metrics.networks import EvaluatorError, evaluator_path, load_evaluator, random_evaluator

    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    net, meta = random_evaluator("fashion-mnist")
    own = save_evaluator(net, meta, evaluator_path("fashion-mnist"))
    assert load_evaluator("fashion-mnist").hash == weights_hash(torch.load(own, weights_only=True)["state_dict"])
    own.unlink()
    monkeypatch.setattr(shipped, "WEIGHTS_DIR", tmp_path / "pkg")
    save_evaluator(net, meta, tmp_path / "pkg" / "fashion-mnist.pt")  # not the weights ganforge ships
    with pytest.raises(EvaluatorError, match="reinstall ganforge"):
        load_evaluator("fashion-mnist")
