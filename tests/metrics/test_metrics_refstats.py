"""Reference statistics: computed once, reused for the same key, recomputed when the key changes."""
from __future__ import annotations

import torch

from ganforge.metrics.networks import classifier_extractor, random_evaluator, weights_hash
from ganforge.metrics.refstats import reference_stats, refstats_dir


def _extractor(seed: int = 0):
    """A random-weight (meaningless, plumbing only) extractor that counts the images it sees."""
    net, meta = random_evaluator("fashion-mnist", seed=seed)
    ex = classifier_extractor(net, meta, weights_hash(net.state_dict()))
    ex.seen = 0
    forward = ex._forward

    def counting(x):
        ex.seen += x.shape[0]
        return forward(x)

    ex._forward = counting
    return ex


def _images(n=40, seed=0):
    return torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_stats_are_cached_and_reused(cache):
    images, ex = _images(), _extractor()
    first = reference_stats(images, ex, data="tiny", split="train", progress=False)
    assert ex.seen == 40 and first.path.is_file() and first.path.parent == refstats_dir()
    again = reference_stats(images, ex, data="tiny", split="train", progress=False)
    assert ex.seen == 40  # no new feature pass
    assert again.path == first.path and (again.mu == first.mu).all() and again.n == 40
    assert again.features.shape == (40, ex.feature_dim) and again.class_counts.sum() == 40


def test_changed_evaluator_weights_change_the_key_and_recompute(cache):
    images = _images()
    ex_a = _extractor(seed=0)
    a = reference_stats(images, ex_a, data="tiny", split="train", progress=False)
    ex_b = _extractor(seed=0)
    with torch.no_grad():
        ex_b.net.head.bias.add_(0.5)  # a different evaluator: same architecture, other weights
    ex_b.hash = weights_hash(ex_b.net.state_dict())
    assert ex_b.hash != ex_a.hash
    b = reference_stats(images, ex_b, data="tiny", split="train", progress=False)
    assert ex_b.seen == 40, "stats for other weights must be recomputed, not reused"
    assert b.path != a.path and a.path.is_file() and b.key["evaluator_hash"] == ex_b.hash


def test_changed_data_or_count_changes_the_key(cache):
    ex = _extractor()
    a = reference_stats(_images(), ex, data="tiny", split="train", progress=False)
    b = reference_stats(_images(seed=1), ex, data="tiny", split="train", progress=False)
    c = reference_stats(_images(), ex, data="tiny", split="train", n=30, progress=False)
    assert len({a.path, b.path, c.path}) == 3 and c.n == 30 and ex.seen == 40 + 40 + 30


def test_a_file_with_another_key_or_garbage_is_recomputed(cache):
    images, ex = _images(), _extractor()
    a = reference_stats(images, ex, data="tiny", split="train", progress=False)
    blob = torch.load(a.path, weights_only=True)
    blob["key"] = {**blob["key"], "evaluator_hash": "000000000000"}  # stale content under this name
    torch.save(blob, a.path)
    reference_stats(images, ex, data="tiny", split="train", progress=False)
    assert ex.seen == 80
    a.path.write_bytes(b"garbage")
    b = reference_stats(images, ex, data="tiny", split="train", progress=False)
    assert ex.seen == 120 and (b.mu == a.mu).all()


def test_lazy_radii_and_floors_are_saved_with_the_stats(cache):
    images, ex = _images(), _extractor()
    a = reference_stats(images, ex, data="tiny", split="train", progress=False)
    radii = a.nn_radii()
    _, pr = a.pr_reference(20)
    b = reference_stats(images, ex, data="tiny", split="train", progress=False)
    assert torch.equal(b.extra["nn_radii"], radii) and torch.equal(b.extra["pr_radii_k3_n20"], pr)
