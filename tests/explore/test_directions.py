"""Semantic directions: SeFa finds a direction planted in the style affine weights (and only in the
layers asked for), PCA finds one planted in a plain G, edits move what they should, and
`ganforge directions` writes the figure and the edited image the page shows."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganforge.errors import ConfigError
from ganforge.models.stylegan2 import StyleGAN2Generator
from ganforge.tools.directions import (apply_edits, find_directions, parse_edits, pca_directions, sefa, seed_points,
                                       style_affines)


def planted_stylegan(plants: dict[tuple[int, int], torch.Tensor], seed: int = 0) -> StyleGAN2Generator:
    """A 16-px StyleGAN2 G whose affine weights reading ws [a, b) are noise plus a strong rank-one
    part along the planted unit vector: every style channel of those layers mostly reads w . v."""
    torch.manual_seed(seed)
    G = StyleGAN2Generator(z_dim=16, img_channels=1, img_size=16, w_dim=16, mapping_layers=2, channel_base=128,
                           channel_max=8).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for i, aff in style_affines(G):
            w = torch.randn(aff.weight.shape, generator=g) * 0.3
            for (a, b), v in plants.items():
                if a <= i < b:
                    w += 4.0 * torch.randn(aff.weight.shape[0], 1, generator=g).sign() * v[None]
            aff.weight.copy_(w)
    return G


def unit(dim: int, seed: int) -> torch.Tensor:
    v = torch.randn(dim, generator=torch.Generator().manual_seed(seed))
    return v / v.norm()


def test_sefa_finds_the_direction_planted_in_the_affine_weights():
    v = unit(16, 1)
    G = planted_stylegan({(0, 6): v})
    values, vectors = sefa(G)
    assert abs(float(vectors[0] @ v)) > 0.98
    assert values[0] > 3 * values[1]  # it stands out, as a planted direction should
    assert torch.allclose(vectors @ vectors.T, torch.eye(16), atol=1e-4)  # an orthonormal basis


def test_sefa_reads_only_the_layers_asked_for_and_the_edit_moves_only_those():
    coarse_v, fine_v = unit(16, 2), unit(16, 3)
    G = planted_stylegan({(0, 2): coarse_v, (4, 6): fine_v})
    assert abs(float(find_directions(G, "0-1").vectors[0] @ coarse_v)) > 0.98
    dirs = find_directions(G, "4-5")
    assert abs(float(dirs.vectors[0] @ fine_v)) > 0.98 and dirs.layers == (4, 6)
    base = seed_points(G, [7])
    moved = apply_edits(dirs, base, {0: 2.0})
    assert torch.equal(moved[:, :4], base[:, :4]) and not torch.equal(moved[:, 4:], base[:, 4:])
    step = (moved - base)[0, 4]
    assert torch.allclose(step, 2.0 * dirs.sigma[0] * dirs.vectors[0], atol=1e-5)


class PlantedG(nn.Module):
    """A plain (non-style) G whose images vary mostly along one latent direction v."""

    num_classes, img_channels, img_size, output = 0, 1, 8, "tanh"

    def __init__(self, v: torch.Tensor):
        super().__init__()
        self.z_dim = v.numel()
        g = torch.Generator().manual_seed(5)
        self.fc = nn.Linear(self.z_dim, 64)
        with torch.no_grad():
            pattern = torch.randn(64, generator=g)
            self.fc.weight.copy_(0.02 * torch.randn(64, self.z_dim, generator=g) + 0.3 * pattern[:, None] * v[None])
            self.fc.bias.zero_()

    def forward(self, z):
        return torch.tanh(self.fc(z)).reshape(-1, 1, 8, 8)


def test_pca_finds_the_latent_direction_the_images_vary_along():
    v = unit(12, 4)
    G = PlantedG(v).eval()
    variance, vectors = pca_directions(G, samples=600)
    assert abs(float(vectors[0] @ v)) > 0.95
    assert variance[0] > 10 * variance[1]
    dirs = find_directions(G)
    assert dirs.space == "z" and torch.equal(dirs.sigma, torch.ones(len(dirs.sigma)))
    with pytest.raises(ConfigError, match="--layers"):
        find_directions(G, "coarse")


def test_directions_are_the_same_every_time(style_explorer):
    G = style_explorer.G
    a, b = find_directions(G, "coarse"), find_directions(G, "coarse")
    assert torch.equal(a.vectors, b.vectors) and torch.equal(a.sigma, b.sigma)


@pytest.mark.parametrize("text, want", [(["0=1.5"], {0: 1.5}), (["0=1.5,3=-2"], {0: 1.5, 3: -2.0}),
                                        (["2=1", "2=0.5"], {2: 1.5}), (["1:-.5"], {1: -0.5})])
def test_parse_edits(text, want):
    assert parse_edits(text) == want


@pytest.mark.parametrize("bad", ["x=1", "0=", "0=1e400", "99=1", "0=11"])
def test_parse_edits_refuses_with_the_flag_named(bad):
    with pytest.raises(ConfigError, match="--edit"):
        parse_edits([bad])


def test_directions_command_writes_the_figure_and_json(cli, style_run, tmp_path):
    out = tmp_path / "d.png"
    code, text, err = cli("directions", style_run, "--seed", 3, "-k", 3, "--steps", 5, "--out", out, "--json")
    assert code == 0, err
    assert "wrote" in text and '"method": "sefa"' in text
    img = Image.open(out)
    assert img.width > 5 * 64 and img.height > 3 * 64  # 3 rows of 5 cells, each at least 64 px


def test_directions_command_on_a_dcgan_uses_pca_and_takes_a_class(cli, dcgan_run, tmp_path):
    code, text, err = cli("directions", dcgan_run, "--class", 2, "-k", 2, "--out", tmp_path / "d.png")
    assert code == 0, err
    assert "PCA" in text and (tmp_path / "d.png").is_file()


def test_an_edit_of_nothing_is_the_generate_image(cli, style_run, tmp_path):
    code, _, err = cli("directions", style_run, "--seed", 4, "--truncation", 0.6, "--edit", "0=0", "--out",
                       tmp_path / "e.png")
    assert code == 0, err
    code, _, err = cli("generate", style_run, "-n", 1, "--seed", 4, "--truncation", 0.6, "--out", tmp_path / "g.png")
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "e.png")), np.asarray(Image.open(tmp_path / "g.png")))


@pytest.mark.parametrize("args, msg", [
    (["--edit", "20=1", "-k", "2"], "directions 0-15"),
    (["--layers", "middle-ish"], "--layers"),
    (["--seed", "1", "--projected", "p.pt"], "not both"),
    (["--span", "0"], "--span"),
    (["--edit", "banana"], "--edit"),
])
def test_bad_directions_flags_give_one_line(cli, style_run, tmp_path, args, msg):
    code, _, err = cli("directions", style_run, *args, "--out", tmp_path / "x.png")
    assert code == 2 and msg in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
