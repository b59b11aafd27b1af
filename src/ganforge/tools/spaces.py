"""Which latent space a tool works in: Z (every generator) or W (a style-based G such as StyleGAN2).

A :class:`LatentSpace` turns seeds into points of its space, truncates them and renders them, so
interpolation and arithmetic are written once for both. In Z a point is the latent ``z`` and
truncation pulls toward the run's mean latent; in W a point is ``w = G.mapping(z)`` and
truncation pulls toward ``G.w_avg`` (the running mean of w kept while training), as the StyleGAN
papers do: W is where a style-based G's latent directions are the most linear.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError
from ..generator import check_noise_mode, has_noise, has_w_space, map_latents, noise_seeds, render_ws, truncate_w
from ..latent import latent_mean_for, render, seed_latents, truncate

SPACES = ("z", "w")


@dataclass
class LatentSpace:
    """Z or W of generator ``G``. batch_size: images (or latents) per forward pass.

    noise_mode: for a G with noise layers (StyleGAN2): "random" draws one noise per figure, from
    ``noise_seed`` (the same for every image, so the images differ by their points alone, and a
    seed's own image is ``generate(G, 1, seed)``'s when ``noise_seed`` is that seed), "const"
    the stored maps, "none" no noise."""

    G: nn.Module
    name: str  # "z" or "w"
    batch_size: int = 256
    noise_mode: str = "random"
    noise_seed: int = 0
    y: int | None = None  # the class a conditional style-based G maps latents to W with

    @property
    def dim(self) -> int:
        return int(self.G.w_dim if self.name == "w" else self.G.z_dim)

    def encode(self, z: torch.Tensor, y: int | torch.Tensor | None = None) -> torch.Tensor:
        """Latents z (N, z_dim) -> points of this space (N, dim) on the CPU; y: the class a
        conditional G maps them to W with (default :attr:`y`)."""
        if self.name != "w":
            return z
        return map_latents(self.G, z, self.batch_size, y=y if y is not None else self.y)

    def of_seeds(self, seeds) -> torch.Tensor:
        """The points of ``seeds`` (N, dim): their latents (see :func:`ganforge.latent.seed_latent`), mapped in W."""
        return self.encode(seed_latents(list(seeds), int(self.G.z_dim)))

    def truncate(self, points: torch.Tensor, psi: float | None) -> torch.Tensor:
        """The truncation trick in this space (toward the mean latent in Z, toward ``G.w_avg`` in W)."""
        if psi is None:
            return points
        if self.name == "w":
            return truncate_w(self.G, points, psi)
        return truncate(points, latent_mean_for(self.G), psi)

    def seeds_noise(self, seeds) -> torch.Tensor | None:
        """For random noise, each seed's own noise seed (N,): seed s draws what ``generate -n 1
        --seed s`` draws; None for the other modes (and a G without noise)."""
        if self.noise_mode != "random" or not has_noise(self.G):
            return None
        return torch.cat([noise_seeds(int(s), 1) for s in seeds])

    def render_seeds(self, seeds, z: torch.Tensor, y: int | torch.Tensor | None = None) -> torch.Tensor:
        """uint8 images of ``seeds`` (their latents ``z`` (N, z_dim)), each as ``generate -n 1 --seed s``
        draws it, whatever this space: through G whole, with each seed's own noise."""
        return render(self.G, z, y, self.batch_size, noise_mode=check_noise_mode(self.noise_mode),
                      noise_seeds=self.seeds_noise(seeds))

    def render(self, points: torch.Tensor, y: int | torch.Tensor | None = None,
               seeds: torch.Tensor | None = None) -> torch.Tensor:
        """uint8 images (N, C, H, W) of points (N, dim); y: the class, for a conditional G (Z only);
        seeds: each image's noise seed (default: :attr:`noise_seed`'s for all)."""
        mode = check_noise_mode(self.noise_mode)
        if seeds is None and mode == "random" and has_noise(self.G):
            seeds = noise_seeds(self.noise_seed, 1).expand(points.shape[0])
        if self.name == "w":
            return render_ws(self.G, points, self.batch_size, noise_mode=mode, noise_seeds=seeds)
        return render(self.G, points, y, self.batch_size, noise_mode=mode, noise_seeds=seeds)


def latent_space(G: nn.Module, space: str | None = None, batch_size: int = 256,
                 flag: str = "--space", noise_mode: str = "random", noise_seed: int = 0,
                 y: int | None = None) -> LatentSpace:
    """The space a tool works in: ``space`` ("z" or "w"), default W for a style-based G and Z otherwise.

    ``w`` for a G without a mapping network raises ConfigError naming ``flag``. y: for a
    conditional style-based G, the class its latents are mapped to W with.
    """
    if space is None:
        space = "w" if has_w_space(G) else "z"
    if space not in SPACES:
        raise ConfigError(f"{flag}: must be z or w, not {space!r}")
    if space == "w" and not has_w_space(G):
        raise ConfigError(f"{flag} w: this run's generator ({type(G).__name__}) has no W space (only a style-based "
                          f"generator such as --arch stylegan2 maps z to w); use {flag} z")
    return LatentSpace(G, space, batch_size, check_noise_mode(noise_mode), noise_seed, y)
