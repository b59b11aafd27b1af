"""ganforge: train GANs on images, watch them learn, resume exactly, and use the generator.

    import ganforge
    cfg = ganforge.get_preset("dcgan")
    cfg.train.minutes = 3
    result = ganforge.train(cfg)                      # -> runs/NNNNN-dcgan-fashion-mnist/
    G = ganforge.load_generator(result.run_dir)
    images = ganforge.generate(G, 64, seed=0)          # uint8 (64, 1, 28, 28)
"""
from __future__ import annotations

__version__ = "0.2.0"

# Names resolve on first use, so `import ganforge` stays cheap (no torch import) for the CLI's --help.
_EXPORTS = {
    "train": "api", "load_generator": "api", "generate": "api", "load_run_config": "api",
    "write_report": "api", "list_runs": "api",
    "RunConfig": "config", "DataConfig": "config", "ModelConfig": "config", "LossConfig": "config",
    "OptimConfig": "config", "TrainConfig": "config",
    "get_preset": "presets", "PRESETS": "presets",
    "load_data": "data", "build_models": "models",
    "interpolate": "tools", "arithmetic": "tools", "neighbours": "tools",
    "style_mix": "tools", "project": "tools", "load_projection": "tools",
    "render_ws": "generator", "map_latents": "generator", "truncate_w": "generator",
    "slerp": "latent", "lerp": "latent", "truncate": "latent",
    "export_generator": "export", "load_safetensors_generator": "export",
    "evaluate_run": "metrics", "evaluate_images": "metrics",
    "GanforgeError": "errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'ganforge' has no attribute {name!r}")
