"""StyleGAN2 as the official network: its configurations' parameter counts, layer by layer where
the official code's own printed tables are public, and in total.

Sources of the per-layer figures (the parameter tables the official code prints when it builds
its networks, quoted in public training logs):
* G, config F (stylegan2-ada-pytorch, ``--cfg stylegan2``/``auto`` at 1024 px): the tables in
  NVlabs/stylegan2-ada-pytorch issue 182 and open-mmlab/mmgeneration issue 394;
* D, config F: the table of the official TensorFlow StyleGAN2 (``D.print_layers()``) in
  lucidrains/stylegan2-pytorch issue 124; stylegan2-ada-pytorch builds the same layers.
The totals are the sums of the official per-layer formulas those rows confirm (each layer's
weight, bias, style affine, noise strength; the 4x4 constant; the epilogue's conv and two fully
connected layers), for the presets' settings of ``train.py --cfg``.
"""
from __future__ import annotations

import pytest

from ganforge.models import build_models, count_params
from ganforge.presets import get_preset


def official(preset: str, **model):
    cfg = get_preset(preset)
    for k, v in model.items():
        setattr(cfg.model, k, v)
    return build_models(cfg.model, cfg.data.channels, cfg.data.size)


def params(module) -> int:
    return sum(p.numel() for p in module.parameters())


# (preset, num_classes) -> (G, D) parameters
TOTALS = {
    ("stylegan2-cifar", 0): (19_947_539, 20_720_641),  # --cfg cifar, unconditional
    # --cfg cifar --cond 1 (CIFAR-10's 10 classes): G's class embedding; D's class mapping network,
    # as deep as G's (2 layers in cifar), and its output the 512-wide class projection
    ("stylegan2-cifar", 10): (20_215_315, 21_513_728),
    ("stylegan2-paper256", 0): (24_767_458, 24_001_089),  # --cfg paper256
    ("stylegan2-f", 0): (30_370_060, 29_012_513),  # --cfg stylegan2 (config F), 1024 px
}


@pytest.mark.parametrize("preset, classes", list(TOTALS))
def test_the_official_configurations_have_the_official_parameter_counts(preset, classes):
    G, D = official(preset, num_classes=classes)
    assert (count_params(G), count_params(D)) == TOTALS[(preset, classes)]


def test_config_f_layer_by_layer_as_the_official_tables_print_it():
    G, D = official("stylegan2-f")
    g_rows = {  # stylegan2-ada-pytorch's Generator table
        "map.fc0": 262_656, "map.fc7": 262_656,
        "syn.b4.conv1": 2_622_465, "syn.b4.torgb": 264_195, "syn.b8.conv0": 2_622_465, "syn.b64.conv0": 2_622_465,
        "syn.b128.conv0": 1_442_561, "syn.b128.conv1": 721_409, "syn.b128.torgb": 132_099,
        "syn.b256.conv0": 426_369, "syn.b256.conv1": 213_249, "syn.b256.torgb": 66_051, "syn.b512.conv0": 139_457,
    }
    modules = dict(G.named_modules())
    for name, n in g_rows.items():
        assert params(modules[name]) == n, name
    assert G.syn.b4.const.numel() == 8_192  # the table's "synthesis.b4:0" row: the 512x4x4 constant
    d_rows = {  # the official D table: FromRGB, Conv0, Conv1_down, Skip per resolution
        "b1024.fromrgb": 128, "b1024.conv0": 9_248, "b1024.conv1": 18_496, "b1024.skip": 2_048,
        "b512.conv0": 36_928, "b512.conv1": 73_856, "b512.skip": 8_192,
        "b256.conv0": 147_584, "b256.conv1": 295_168, "b256.skip": 32_768,
        "b128.conv0": 590_080, "b128.conv1": 1_180_160, "b128.skip": 131_072,
        "b64.conv0": 2_359_808, "b64.conv1": 2_359_808,
    }
    modules = dict(D.named_modules())
    for name, n in d_rows.items():
        assert params(modules[name]) == n, name
    assert modules["b1024.skip"].bias is None  # the skip conv has no bias


def test_the_cpu_presets_follow_the_same_width_rule():
    """The CPU presets are the official network at narrower widths: min(channel_base // r, channel_max)."""
    cfg = get_preset("stylegan2")
    G, D = build_models(cfg.model, 1, 32)
    widths = {r: getattr(G.syn, f"b{r}").conv1.weight.shape[0] for r in G.syn.resolutions}
    assert widths == {r: min(cfg.model.channel_base // r, cfg.model.channel_max) for r in G.syn.resolutions}
    assert D.b32.conv0.weight.shape[0] == min(cfg.model.channel_base // 32, cfg.model.channel_max)
