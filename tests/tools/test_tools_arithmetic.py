"""Vector arithmetic, interpolation and neighbours at the function level, on tiny fake generators.

Class concepts of an unconditional run need an evaluator classifier; these tests inject a fake
one (``brightness_probs``: dark / mid grey / bright by mean pixel value) instead of training the
real one. The conditional paths use ``TinyCondG``, a stand-in with the conditional interface.
"""
from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.latent import render, seed_latent, seed_latents
from ganforge.tools import (
    arithmetic,
    interpolate,
    knn,
    neighbours,
    save_arithmetic,
    save_interpolation,
    save_neighbours,
)
from ganforge.tools.nearest import train_to_train
from toolstest_util import BRIGHTNESS_CLASSES, TinyCondG, TinyG, brightness_probs


def test_seed_lists_average_their_latents_and_combine_left_to_right(tmp_path):
    G = TinyG()
    res = arithmetic(G, "[3,9,12] - [4,5,6] + [7,8,10]", results=5, noise=0.2, seed=1)
    means = [seed_latents(s, G.z_dim).mean(0) for s in ([3, 9, 12], [4, 5, 6], [7, 8, 10])]
    assert torch.allclose(res.result, means[0] - means[1] + means[2])
    assert [r.seeds for r in res.rows] == [[3, 9, 12], [4, 5, 6], [7, 8, 10]]
    assert torch.equal(res.rows[0].images, render(G, seed_latents([3, 9, 12], G.z_dim)))
    # the first result is the result latent itself, the others add seeded noise
    assert res.result_images.shape == (5, 1, 8, 8)
    assert torch.equal(res.result_latents[0], res.result)
    spread = (res.result_latents[1:] - res.result).std().item()
    assert 0.1 < spread < 0.35
    again = arithmetic(G, "[3,9,12] - [4,5,6] + [7,8,10]", results=5, noise=0.2, seed=1)
    assert torch.equal(again.result_images, res.result_images)
    assert res.readout is None  # no classifier, no read-out
    path = save_arithmetic(res, tmp_path / "a.png")
    w, h = Image.open(path).size
    assert w > 5 * 64 and h > 4 * 64  # 3 concept rows + the result row, images upscaled


def test_unconditional_class_concepts_use_the_classifiers_most_confident_exemplars(tmp_path):
    """The evaluator is faked by brightness_probs; the exemplars must be its top picks."""
    G = TinyG()
    res = arithmetic(G, "ankle-boot - dark + [5]", class_names=BRIGHTNESS_CLASSES, classify=brightness_probs,
                     exemplars=3, pool=300, results=6, seed=0)
    pool_probs = brightness_probs(render(G, seed_latents(range(300), G.z_dim)))
    for row, cid in zip(res.rows[:2], (2, 0)):
        assert row.class_id == cid and row.description == f"class {BRIGHTNESS_CLASSES[cid]!r}"
        top = pool_probs[:, cid].topk(3).indices.tolist()
        assert row.seeds == top  # pool seeds start at --seed (0)
        assert row.confidences == pytest.approx(pool_probs[top, cid].tolist(), abs=1e-4)
        assert torch.equal(row.images, render(G, seed_latents(row.seeds, G.z_dim)))
    assert res.rows[2].seeds == [5]
    assert sum(res.readout.values()) == 6 and set(res.readout) <= set(BRIGHTNESS_CLASSES)
    assert res.to_dict()["terms"][0]["concept"] == "ankle-boot"
    save_arithmetic(res, tmp_path / "a.png")


def test_class_concepts_without_an_evaluator_or_with_an_unknown_name_are_clear_errors():
    G = TinyG()
    with pytest.raises(GanforgeError, match="need the evaluator classifier: run it"):
        arithmetic(G, "dark - [1]", class_names=None, classify=None, evaluator_hint="run it")
    with pytest.raises(GanforgeError) as e:
        arithmetic(G, "dark - shoes", class_names=BRIGHTNESS_CLASSES, classify=brightness_probs, pool=20)
    assert "'shoes'" in str(e.value) and "Ankle boot" in str(e.value)
    with pytest.raises(GanforgeError, match="position 9"):
        arithmetic(G, "[1,2] + + [3]")
    with pytest.raises(GanforgeError, match="unconditional"):
        arithmetic(G, "[1] - [2]", result_class="dark")


def test_conditional_class_concepts_fix_y_and_results_take_the_first_terms_class():
    G = TinyCondG()
    res = arithmetic(G, "ankle boot - dark + [4,5]", class_names=BRIGHTNESS_CLASSES, exemplars=2, results=3,
                     seed=0)
    a, b, c = res.rows
    assert (a.class_id, a.render_class, b.class_id, b.render_class) == (2, 2, 0, 0)
    assert a.seeds == [1000, 1001] and b.seeds == [2000, 2001]  # a block of seeds per term
    assert torch.equal(a.images, render(G, seed_latents([1000, 1001], G.z_dim), 2))
    assert c.render_class == 2  # seed lists are drawn as the result class
    assert res.result_class == 2
    G.seen_y.clear()
    res2 = arithmetic(G, "ankle boot - dark + [4,5]", class_names=BRIGHTNESS_CLASSES, exemplars=2, results=3,
                      result_class="mid-grey")
    assert res2.result_class == 1 and G.seen_y[-1].tolist() == [1, 1, 1]
    res3 = arithmetic(G, "[1] - [2]", class_names=BRIGHTNESS_CLASSES, results=2)
    assert res3.result_class == 0 and res3.notes  # no class anywhere: class 0, said so
    # the evaluator's read-out is named by the evaluator's classes, not the run's
    res4 = arithmetic(G, "dark - [2]", class_names=BRIGHTNESS_CLASSES, results=4, classify=brightness_probs,
                      classify_names=["lo", "mid", "hi"])
    assert sum(res4.readout.values()) == 4 and set(res4.readout) <= {"lo", "mid", "hi"}


def test_interpolation_frames_hit_the_seed_images_and_save_a_grid_and_gif(tmp_path):
    G = TinyG()
    res = interpolate(G, [1, 7, 42], steps=5, mode="slerp")
    assert res.frames.shape == (3, 5, 1, 8, 8)
    for s, seed in enumerate([1, 7, 42]):
        assert torch.equal(res.frames[s, 0], render(G, seed_latent(seed, G.z_dim)[None])[0])
    assert torch.equal(res.frames[-1, -1], res.frames[0, 0])  # loops back
    png, gif = save_interpolation(res, tmp_path / "walk")
    assert png.name == "walk.png" and gif.name == "walk.gif"
    assert Image.open(gif).n_frames == 3 * 4
    cond = interpolate(TinyCondG(), [1, 2], steps=3, y=1, truncation=0.5)
    assert cond.frames.shape == (2, 3, 1, 8, 8) and cond.class_id == 1
    with pytest.raises(GanforgeError, match="at least 2"):
        interpolate(G, [3])


def test_knn_matches_brute_force_across_chunks():
    g = torch.Generator().manual_seed(0)
    ref = torch.randint(0, 256, (50, 1, 4, 4), generator=g, dtype=torch.uint8)
    q = torch.randint(0, 256, (3, 1, 4, 4), generator=g, dtype=torch.uint8).float()
    d, i = knn(q, lambda s: ref[s], 50, k=4, chunk=7)
    brute = torch.cdist(q.reshape(3, -1).double(), ref.reshape(50, -1).double())
    bd, bi = brute.topk(4, largest=False)
    assert torch.equal(i, bi) and torch.allclose(d, bd)
    with pytest.raises(GanforgeError, match="-k 60"):
        knn(q, ref, 50, k=60)


def test_the_scale_is_the_median_distance_to_the_nearest_other_training_image():
    g = torch.Generator().manual_seed(1)
    ref = torch.randint(0, 256, (30, 1, 4, 4), generator=g, dtype=torch.uint8)
    flat = ref.reshape(30, -1).double()
    brute = torch.cdist(flat, flat).fill_diagonal_(float("inf")).min(1).values
    assert train_to_train(ref, 30, sample=30) == pytest.approx(float(brute.median()))
    assert train_to_train(lambda s: ref[s], 30, sample=30) == pytest.approx(float(brute.median()))
    # a sample of 10 of them: the median over those ten
    pick = torch.randperm(30, generator=torch.Generator().manual_seed(0))[:10]
    assert train_to_train(ref, 30, sample=10) == pytest.approx(float(brute[pick].median()))
    # exact duplicates are each other's nearest, whichever of the two knn lists first
    twice = torch.cat([ref[:5], ref[:5]])
    assert train_to_train(twice, 10, sample=10) == 0


def test_neighbours_in_pixel_and_feature_space(tmp_path):
    G = TinyG()
    train = render(G, torch.randn(40, G.z_dim, generator=torch.Generator().manual_seed(9)))
    res = neighbours(G, train, n=3, k=2, seed=5, features=lambda x: brightness_probs(x), feature_name="fake")
    assert res.pixel_idx.shape == (3, 2) and res.feature_idx.shape == (3, 2)
    d = torch.cdist(res.fakes.reshape(3, -1).double(), train.reshape(40, -1).double())
    assert torch.equal(res.pixel_idx[:, 0], d.argmin(1))
    assert res.pixel_scale == pytest.approx(train_to_train(train, 40)) and res.pixel_scale > 0
    assert res.feature_scale == pytest.approx(train_to_train(brightness_probs(train).float(), 40))
    save_neighbours(res, train, tmp_path / "nn.png")
    only_pixels = neighbours(G, train, n=2, k=1, skipped="no evaluator")
    assert only_pixels.feature_idx is None and only_pixels.to_dict()["feature_skipped"] == "no evaluator"
    one = neighbours(G, train[:1], n=2, k=1).to_dict()  # a set of one image has no scale: null, not NaN
    assert one["pixel"]["train_to_train_median"] is None and "NaN" not in json.dumps(one)
    with pytest.raises(GanforgeError, match="makes"):
        neighbours(G, train[:, :, :4, :4], n=2, k=1)
