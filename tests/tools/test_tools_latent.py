"""Latent maths: seed latents, slerp/lerp, truncation, class names, the arithmetic parser."""
from __future__ import annotations

import pytest
import torch

from ganforge.api import generate
from ganforge.errors import GanforgeError
from ganforge.latent import (
    combine,
    compute_latent_mean,
    interpolate_path,
    latent_mean_path,
    lerp,
    load_latent_mean,
    parse_expression,
    render,
    resolve_class,
    run_G,
    seed_latent,
    slerp,
    truncate,
)
from toolstest_util import TinyCondG, TinyG

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


# --------------------------------------------------------------------------- seeds


def test_seed_latent_is_what_generate_draws_for_that_seed():
    G = TinyG()
    for s in (0, 7, 123):
        assert torch.equal(generate(G, 1, seed=s), render(G, seed_latent(s, G.z_dim)[None]))


# --------------------------------------------------------------------------- interpolation


def _pairs():
    g = torch.Generator().manual_seed(1)
    for scale_b in (1.0, 0.3, 3.0):
        a = torch.randn(64, generator=g)
        yield a, torch.randn(64, generator=g) * scale_b


def test_slerp_keeps_norms_between_the_endpoints_and_hits_them_exactly():
    t = torch.linspace(0, 1, 11)
    for a, b in _pairs():
        path = slerp(a, b, t)
        assert torch.equal(path[0], a) and torch.equal(path[-1], b)  # bit-exact endpoints
        assert torch.equal(slerp(a, b, 0.0), a) and torch.equal(slerp(a, b, 1.0), b)
        lo, hi = sorted((a.norm().item(), b.norm().item()))
        norms = path.norm(dim=1)
        assert (norms >= lo * (1 - 1e-6)).all() and (norms <= hi * (1 + 1e-6)).all()
        # and it is not the straight line, whose midpoint is far shorter in 64-d
        assert slerp(a, b, 0.5).norm() > lerp(a, b, 0.5).norm() * 1.2


def test_slerp_turns_at_constant_angular_speed():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    mid = slerp(a, b, 0.5)
    assert torch.allclose(mid / mid.norm(), torch.tensor([2 ** -0.5, 2 ** -0.5]), atol=1e-6)
    assert mid.norm().item() == pytest.approx(1.5)


def test_slerp_of_parallel_or_zero_latents_is_finite():
    a = torch.ones(8)
    assert torch.allclose(slerp(a, 2 * a, 0.5), 1.5 * a)
    assert torch.isfinite(slerp(torch.zeros(8), a, 0.5)).all()


def test_lerp_midpoint_and_endpoints():
    a, b = next(_pairs())
    assert torch.allclose(lerp(a, b, 0.5), (a + b) / 2, atol=1e-6)
    path = lerp(a, b, [0.0, 0.25, 1.0])
    assert torch.equal(path[0], a) and torch.equal(path[2], b)


def test_interpolate_path_loops_back_to_the_first_latent():
    z = torch.randn(3, 5)
    path = interpolate_path(z, steps=4, mode="slerp", loop=True)
    assert path.shape == (3, 4, 5)
    for s, (i, j) in enumerate([(0, 1), (1, 2), (2, 0)]):
        assert torch.equal(path[s, 0], z[i]) and torch.equal(path[s, -1], z[j])
    assert interpolate_path(z, 4, "lerp", loop=False).shape == (2, 4, 5)
    with pytest.raises(GanforgeError, match="--steps"):
        interpolate_path(z, 1)
    with pytest.raises(GanforgeError, match="at least 2"):
        interpolate_path(z[:1], 4)


# --------------------------------------------------------------------------- truncation


def test_truncation_zero_gives_the_mean_latents_image_for_every_seed():
    G = TinyG()
    mean = compute_latent_mean(G.z_dim)
    out = generate(G, 6, seed=3, truncation=0.0)
    expected = render(G, mean[None])[0]
    assert all(torch.equal(img, expected) for img in out)


def test_truncation_one_is_the_identity_and_none_is_the_old_behaviour():
    G = TinyG()
    z = torch.randn(5, G.z_dim, generator=torch.Generator().manual_seed(4))
    old = render(G, z)  # what generate drew before truncation existed
    assert torch.equal(generate(G, 5, seed=4), old)
    assert torch.equal(generate(G, 5, seed=4, truncation=1.0), old)
    assert torch.equal(truncate(z, torch.zeros(G.z_dim), 1.0), z)
    half = truncate(z, torch.ones(G.z_dim), 0.5)
    assert torch.allclose(half, 1 + 0.5 * (z - 1))


def test_latent_mean_is_near_zero_stored_with_the_run_and_reloaded(tmp_path):
    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(b"")  # only its folder matters here
    mean = load_latent_mean(ckpt, z_dim=16)
    path = latent_mean_path(ckpt)
    assert path == tmp_path / "latent_mean.pt" and path.is_file()
    assert mean.abs().max() < 0.05  # N(0, I): the mean of 10,000 draws is within ~4/sqrt(n)
    stored = torch.load(path, weights_only=True)
    assert torch.equal(stored["mean"], mean) and stored["n"] == 10_000
    assert torch.equal(load_latent_mean(ckpt, z_dim=16), mean)
    assert load_latent_mean(ckpt, z_dim=4).shape == (4,)  # another z_dim: recomputed


# --------------------------------------------------------------------------- classes and G


@pytest.mark.parametrize("text,expected", [
    ("ankle boot", 9), ("ankle-boot", 9), ("Ankle boot", 9), ("ANKLE_BOOT", 9), ("ankleboot", 9),
    ("t-shirt/top", 0), ("tshirt", 0), ("top", 0), ("sneaker", 7), ("3", 3), (8, 8),
])
def test_resolve_class_by_name_or_id(text, expected):
    assert resolve_class(text, FASHION) == expected


@pytest.mark.parametrize("bad", ["boots", "12", -1, ""])
def test_unknown_class_lists_the_known_ones(bad):
    with pytest.raises(GanforgeError) as e:
        resolve_class(bad, FASHION)
    assert "Ankle boot" in str(e.value) and "Sneaker" in str(e.value)


def test_resolve_class_without_names_takes_ids_only():
    assert resolve_class("2", None, num_classes=3) == 2
    with pytest.raises(GanforgeError, match="ids 0..2"):
        resolve_class("cat", None, num_classes=3)


def test_run_G_passes_classes_only_to_a_conditional_G():
    z = torch.randn(4, 8)
    G, C = TinyG(), TinyCondG()
    assert run_G(G, z).shape == (4, 1, 8, 8)
    with pytest.raises(GanforgeError, match="unconditional"):
        run_G(G, z, 1)
    with pytest.raises(GanforgeError, match="conditional"):
        run_G(C, z)
    run_G(C, z, 2)
    assert C.seen_y[-1].tolist() == [2, 2, 2, 2] and C.seen_y[-1].dtype == torch.int64
    run_G(C, z, torch.tensor([0, 1, 2, 0]))
    assert C.seen_y[-1].tolist() == [0, 1, 2, 0]


# --------------------------------------------------------------------------- arithmetic expressions


def _signed(terms):
    return [("+" if t.sign > 0 else "-") + (t.concept.class_name or str(list(t.concept.seeds))) for t in terms]


def test_parser_signs_left_to_right_and_unary_minus():
    assert _signed(parse_expression("A - B + C")) == ["+A", "-B", "+C"]
    assert _signed(parse_expression("  -A+B  -C ")) == ["-A", "+B", "-C"]
    assert _signed(parse_expression("+A")) == ["+A"]
    a, b, c = torch.tensor([1.0]), torch.tensor([10.0]), torch.tensor([100.0])
    # left to right: A - B - C is (A - B) - C, not A - (B - C)
    assert combine(parse_expression("A - B - C"), [a, b, c]).item() == 1 - 10 - 100
    assert combine(parse_expression("-A + B - C"), [a, b, c]).item() == -1 + 10 - 100


def test_parser_seed_lists_and_names_with_spaces_and_hyphens():
    terms = parse_expression("[3, 9,12] - [ 4 ] + ankle boot - T-shirt/top + 7")
    assert _signed(terms) == ["+[3, 9, 12]", "-[4]", "+ankle boot", "-T-shirt/top", "+7"]
    assert terms[0].concept.seeds == (3, 9, 12) and not terms[0].concept.is_class
    assert terms[2].pos == 20  # 0-based start, for messages
    # a hyphen between letters is part of a name, unless the names say it is a difference
    assert _signed(parse_expression("coat-dress")) == ["+coat-dress"]
    assert _signed(parse_expression("coat-dress", FASHION)) == ["+coat", "-dress"]
    assert _signed(parse_expression("ankle-boot-bag", FASHION)) == ["+ankle-boot-bag"]  # not all parts known


@pytest.mark.parametrize("text,pos,what", [
    ("", 1, "empty"),
    ("A +", 4, "at the end"),
    ("A - - B", 5, "two operators"),
    ("A B [1]", 5, "expected '+' or '-'"),
    ("[1,,2]", 4, "empty entry"),
    ("[1, x]", 5, "'x'"),
    ("[1, 2", 1, "never closed"),
    ("A + ]", 5, "without '['"),
    ("A $ B", 3, "'$'"),
])
def test_parser_errors_point_at_the_position(text, pos, what):
    with pytest.raises(GanforgeError) as e:
        parse_expression(text)
    msg = str(e.value)
    assert f"position {pos}:" in msg and what in msg, msg
