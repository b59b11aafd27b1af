"""How the golden-value cases build a trainer: the one line to change if its API moves."""
from __future__ import annotations

import torch

from ganforge.train.loop import seed_everything
from ganforge.train.builder import build_trainer


def make_trainer(cfg, img_channels: int, img_size: int):
    seed_everything(cfg.train.seed)
    return build_trainer(cfg, img_channels, img_size, torch.device("cpu"))
