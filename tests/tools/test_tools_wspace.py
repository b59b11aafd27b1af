"""The W-space tools on a tiny StyleGAN2 generator: truncation toward w_avg, interpolation and
arithmetic in W, style mixing against hand-built ws, and projection."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import from_model_range
from ganforge.errors import ConfigError, GanforgeError
from ganforge.generator import generate, latents, map_latents, render, render_ws, truncate, truncate_w
from ganforge.latent import lerp, seed_latents
from ganforge.models.stylegan2 import StyleGAN2Generator
from ganforge.tools import (arithmetic, interpolate, latent_space, load_projection, project, read_target,
                            save_projection, style_mix)
from ganforge.tools.style_mixing import mix_ws, parse_layers, parse_sources
from toolstest_util import TinyG


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    G = StyleGAN2Generator(z_dim=8, img_channels=1, img_size=16, w_dim=8, mapping_layers=2, channel_base=128, channel_max=8)
    with torch.no_grad():
        for p in G.parameters():  # noise strengths start at 0: give them (and everything) some effect
            p.add_(torch.randn_like(p) * 0.3)
        G.w_avg.copy_(torch.randn(8) * 0.5)  # a run's running mean of w is not zero
    return G.eval()


def images_of(G, ws: torch.Tensor) -> torch.Tensor:
    """uint8 images of ws straight from G.synthesis: what the tools must agree with. The W-space
    tests here draw every image with the stored noise maps (noise mode const), so an image is a
    function of its styles alone (tests/tools/test_noise_modes.py covers the other modes)."""
    with torch.no_grad():
        return from_model_range(G.synthesis(ws, "const"), G.output)


def w_of(G, seeds) -> torch.Tensor:
    with torch.no_grad():
        return G.mapping(seed_latents(list(seeds), G.z_dim))


# --------------------------------------------------------------------------- truncation in W


def test_truncation_zero_in_w_gives_the_w_avg_image_for_every_seed(G):
    images = generate(G, 5, seed=3, truncation=0, noise_mode="const")
    assert all(torch.equal(images[0], im) for im in images[1:])
    assert torch.equal(images[0], images_of(G, G.w_avg[None])[0])


def test_truncation_in_w_is_w_avg_plus_psi_times_the_offset(G):
    z = latents(3, G.z_dim, 11)
    with torch.no_grad():
        w = G.mapping(z)
    want = images_of(G, G.w_avg + 0.5 * (w - G.w_avg))
    got = generate(G, 3, seed=11, truncation=0.5, noise_mode="const")
    assert torch.equal(got, want)
    # not the truncation in Z of other generators
    assert not torch.equal(got, render(G, truncate(z, torch.zeros(G.z_dim), 0.5), noise_mode="const"))
    assert torch.equal(truncate_w(G, w, 0.5), G.w_avg + 0.5 * (w - G.w_avg))


def test_without_truncation_a_stylegan_samples_as_before(G):
    const = {"noise_mode": "const"}
    assert torch.equal(generate(G, 4, seed=2, **const), render(G, latents(4, G.z_dim, 2), **const))
    assert torch.equal(generate(G, 4, seed=2, truncation=1, **const), generate(G, 4, seed=2, **const))
    ws = map_latents(G, latents(4, G.z_dim, 2), batch_size=3)
    assert torch.equal(render_ws(G, ws, **const), generate(G, 4, seed=2, **const))


# --------------------------------------------------------------------------- interpolation and arithmetic


def test_interpolation_in_w_ends_at_the_seeds_images_and_lerps_w(G):
    res = interpolate(G, [1, 2, 3], steps=4, noise_mode="const")
    assert res.space == "w" and res.mode == "lerp" and res.latents.shape == (3, 4, G.w_dim)
    for s, seed in enumerate([1, 2, 3]):
        assert torch.equal(res.frames[s, 0], generate(G, 1, seed=seed, noise_mode="const")[0])
    w1, w2 = w_of(G, [1, 2])
    torch.testing.assert_close(res.latents[0, 1], lerp(w1, w2, 1 / 3))
    assert torch.equal(res.frames[0, 1], images_of(G, res.latents[0, 1][None])[0])

    trunc = interpolate(G, [1, 2], steps=3, truncation=0.7, loop=False, noise_mode="const")
    assert torch.equal(trunc.frames[0, 0], generate(G, 1, seed=1, truncation=0.7, noise_mode="const")[0])
    assert torch.equal(trunc.frames[0, -1], generate(G, 1, seed=2, truncation=0.7, noise_mode="const")[0])


def test_interpolation_in_z_still_walks_the_latents(G):
    res = interpolate(G, [1, 2], steps=3, space="z", loop=False, noise_mode="const")
    assert res.space == "z" and res.mode == "slerp" and res.latents.shape == (1, 3, G.z_dim)
    assert torch.equal(res.frames[0, -1], generate(G, 1, seed=2, noise_mode="const")[0])


def test_space_w_needs_a_style_based_generator():
    with pytest.raises(ConfigError, match="--space w: .*TinyG.* has no W space"):
        interpolate(TinyG(), [1, 2], steps=3, space="w")
    with pytest.raises(ConfigError, match="--space w"):
        arithmetic(TinyG(), "[1] - [2]", space="w")
    assert latent_space(TinyG()).name == "z"


def test_arithmetic_in_w_takes_means_of_w(G):
    res = arithmetic(G, "[1,2] - [3] + [4,5]", results=3, noise=0.5, seed=7, noise_mode="const")
    assert res.space == "w" and res.to_dict()["space"] == "w"
    w = {s: w_of(G, [s])[0] for s in (1, 2, 3, 4, 5)}
    want = (w[1] + w[2]) / 2 - w[3] + (w[4] + w[5]) / 2
    torch.testing.assert_close(res.result, want)
    assert torch.equal(res.result_images[0], images_of(G, res.result[None])[0])
    assert torch.equal(res.rows[0].mean_image, images_of(G, res.rows[0].mean[None])[0])
    seeds_1_2 = torch.cat([generate(G, 1, seed=s, noise_mode="const") for s in (1, 2)])
    assert torch.equal(res.rows[0].images, seeds_1_2)
    assert not torch.equal(res.result_latents[1], res.result)  # the noisy results move in W
    z_res = arithmetic(G, "[1,2] - [3] + [4,5]", results=1, space="z", noise_mode="const")
    assert z_res.space == "z" and z_res.result.shape == (G.z_dim,)


# --------------------------------------------------------------------------- style mixing


def test_style_mix_takes_the_chosen_layers_from_the_column(G):
    res = style_mix(G, [1, 2], [3, 4, 5], layers="1-2", noise_mode="const")
    assert res.layers == (1, 3) and res.cells.shape == (2, 3, 1, 16, 16)
    rows, cols = w_of(G, [1, 2]), w_of(G, [3, 4, 5])
    for r in range(2):
        for k in range(3):
            ws = rows[r][None, None].repeat(1, G.num_ws, 1)
            ws[0, 1:3] = cols[k]
            assert torch.equal(res.cells[r, k], images_of(G, ws)[0]), (r, k)
    assert torch.equal(res.row_images, images_of(G, rows))
    assert torch.equal(res.col_images, images_of(G, cols))
    # outside the layers a cell is its row's image; taking every layer gives the column's
    every = style_mix(G, [1], [3], layers=f"0-{G.num_ws - 1}", noise_mode="const")
    assert torch.equal(every.cells[0, 0], every.col_images[0])


def test_style_mix_groups_and_truncation(G):
    assert parse_layers("coarse", G) == (0, 4) and parse_layers("fine", G) == (4, 6) and parse_layers("5", G) == (5, 6)
    res = style_mix(G, [1], [3], layers="coarse", truncation=0, noise_mode="const")
    # psi 0: every seed is w_avg, so every image is the w_avg image
    assert torch.equal(res.cells[0, 0], images_of(G, G.w_avg[None])[0])
    m = mix_ws(torch.zeros(2, 6, 8), torch.ones(3, 6, 8), 2, 4)
    assert m.shape == (2, 3, 6, 8) and m[:, :, 2:4].eq(1).all() and m[:, :, :2].eq(0).all() and m[:, :, 4:].eq(0).all()


@pytest.mark.parametrize("spec, msg", [
    ("0-6", "6 style inputs, ws indices 0-5"), ("3-1", "first index is above the last"),
    ("top", "give coarse, middle, fine or ws indices A-B"), ("middle", "no middle layers"),
])
def test_bad_layers_are_config_errors(G, spec, msg):
    with pytest.raises(ConfigError, match=msg):
        parse_layers(spec, G)


def test_sources_are_seeds_or_existing_files(tmp_path):
    (tmp_path / "p.pt").write_bytes(b"x")
    assert parse_sources(f"1, 2,{tmp_path / 'p.pt'}", "--rows") == [1, 2, tmp_path / "p.pt"]
    with pytest.raises(ConfigError, match="--cols: 'nope.pt' is neither a seed"):
        parse_sources("1,nope.pt", "--cols")
    with pytest.raises(ConfigError, match="empty entry"):
        parse_sources("1,,2", "--rows")
    with pytest.raises(ConfigError, match="needs a style-based generator"):
        style_mix(TinyG(), [1], [2])


# --------------------------------------------------------------------------- projection


def test_projection_lowers_its_loss_and_feeds_style_mix(G, tmp_path):
    target = generate(G, 1, seed=42, truncation=0.5, noise_mode="const")
    res = project(G, target, steps=25, lr=0.1, seed=1, progress=False)
    assert res.ws.shape == (1, G.num_ws, G.w_dim) and res.loss.shape == (25,)
    assert res.loss[-1] < 0.5 * res.loss[0]
    assert res.feature_network.startswith("fashion-mnist-cnn") and res.feature_loss[0] > 0
    assert torch.equal(res.reconstruction, images_of(G, res.ws))
    assert not G.w_avg.requires_grad and all(p.requires_grad for p in G.parameters())  # G left as it was

    paths = save_projection(res, tmp_path / "proj", checkpoint="run/checkpoint.pt", image="x.png")
    blob = torch.load(paths["projection"], weights_only=True)
    assert torch.equal(blob["ws"], res.ws) and torch.equal(blob["loss"], res.loss)
    assert blob["checkpoint"] == "run/checkpoint.pt" and blob["settings"]["steps"] == 25
    assert Image.open(paths["compare"]).size[0] > Image.open(paths["reconstruction"]).size[0]

    mix = style_mix(G, [paths["projection"], 1], [3], layers="fine", noise_mode="const")
    assert torch.equal(mix.row_images[0], res.reconstruction[0])
    ws = res.ws.clone()
    ws[0, 4:6] = w_of(G, [3])[0]
    assert torch.equal(mix.cells[0, 0], images_of(G, ws)[0])


def test_projection_pixels_only_and_its_errors(G, tmp_path):
    target = generate(G, 1, seed=4, noise_mode="const")
    res = project(G, target, steps=5, feature_weight=0, noise=0, progress=False)
    assert res.feature_network == "" and res.feature_loss.eq(0).all() and res.loss[-1] < res.loss[0]
    with pytest.raises(ConfigError, match="--steps: must be from 1"):
        project(G, target, steps=0)
    with pytest.raises(ConfigError, match="--lr: must be a positive"):
        project(G, target, steps=2, lr=0)
    with pytest.raises(ConfigError, match="needs a style-based generator"):
        project(TinyG(), target)
    bad = tmp_path / "bad.pt"
    torch.save({"ws": torch.zeros(1, 3, 8)}, bad)
    with pytest.raises(ConfigError, match="not a projection file"):
        load_projection(bad, G)
    torch.save({"format": "ganforge-projection", "ws": torch.zeros(1, 3, 8)}, bad)
    with pytest.raises(GanforgeError, match=r"shape \(1, 3, 8\).*\(1, 6, 8\)"):
        load_projection(bad, G)


def test_the_target_is_read_at_gs_channels_and_size(G, tmp_path):
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[:, 20:] = (255, 255, 255)
    Image.fromarray(rgb).save(tmp_path / "half.png")
    t = read_target(tmp_path / "half.png", G)
    assert t.shape == (1, 1, 16, 16) and t.dtype == torch.uint8
    assert t[0, 0, :, :4].float().mean() < 40 and t[0, 0, :, -4:].float().mean() > 215  # centre square kept
    with pytest.raises(ConfigError, match="no such image file"):
        read_target(tmp_path / "missing.png", G)
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(ConfigError, match="not an image Pillow can read"):
        read_target(tmp_path / "junk.png", G)
