"""Inception-v3 in the layout of the FID reference network, for FID as papers report it.

FID as everyone reports it uses the 2048-d pool features of the TensorFlow Inception-v3 graph
of 2015-12-05, ported to PyTorch weights as ``pt_inception-2015-12-05-6726825d.pth`` (the file
pytorch-fid publishes). That network differs from torchvision's Inception-v3 in four blocks:
the average pools in the A, C and first E block do not count padding, and the last E block
max-pools its pool branch; the classifier has 1008 outputs. :class:`FIDInceptionV3` is written
here to that layout, with the usual module names (``Conv2d_1a_3x3.conv.weight``, ...,
``Mixed_7c.branch_pool.bn.running_var``, ``fc.weight``), so the published state dict loads
into it with ``strict=True``.

The weights are not shipped (95 MB). ganforge looks for them, in order: the path given by
``--inception-weights FILE`` (``weights=`` here), ``$GANFORGE_INCEPTION``, then
``<cache>/evaluators/pt_inception-2015-12-05-6726825d.pth``.

Input rule (pytorch-fid's): uint8 RGB (grey is replicated), resized to 299x299 with bilinear
interpolation (``align_corners=False``, no antialiasing), scaled to [-1, 1].
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .networks import EvaluatorError, FeatureExtractor, load_failure, weights_hash

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
ALT_NAMES = ("weights-inception-2015-12-05-6726825d.pth",)  # the same weights under torch-fidelity's name
WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + WEIGHTS_NAME
INPUT_SIZE = 299


class BasicConv2d(nn.Module):
    """Conv (no bias) -> BatchNorm (eps 1e-3, as in the TF graph) -> ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _avg_pool_no_pad(x: torch.Tensor) -> torch.Tensor:
    # The TF graph's 3x3 average pools divide by the number of real (unpadded) pixels.
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 -> 224 + pool_features channels."""

    def __init__(self, c_in: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 64, 1)
        self.branch5x5_1 = BasicConv2d(c_in, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(c_in, pool_features, 1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg_pool_no_pad(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """35 -> 17 reduction: 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2 -> 480 + c_in channels."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3(x)
        b3d = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, b3d, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convs (1x7 and 7x1), ``c7`` inner channels -> 768."""

    def __init__(self, c_in: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7d = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            b7d = layer(b7d)
        bp = self.branch_pool(_avg_pool_no_pad(x))
        return torch.cat([b1, b7, b7d, bp], 1)


class InceptionD(nn.Module):
    """17 -> 8 reduction: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2 -> 512 + c_in channels."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """8x8 block with split 1x3/3x1 outputs -> 2048 channels. ``max_pool``: the pool branch
    max-pools (the FID graph's last block) instead of average-pooling without padding."""

    def __init__(self, c_in: int, max_pool: bool = False):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(c_in, 320, 1)
        self.branch3x3_1 = BasicConv2d(c_in, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(c_in, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        b3d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b3d = torch.cat([self.branch3x3dbl_3a(b3d), self.branch3x3dbl_3b(b3d)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool_no_pad(x)
        return torch.cat([b1, b3, b3d, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """Inception-v3 as in the FID reference graph. Input: float (N, 3, 299, 299) in [-1, 1].
    ``forward`` returns (pool features (N, 2048), logits (N, 1008))."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, c7=128)
        self.Mixed_6c = InceptionC(768, c7=160)
        self.Mixed_6d = InceptionC(768, c7=160)
        self.Mixed_6e = InceptionC(768, c7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)
        self.feature_dim = 2048

    def features(self, x: torch.Tensor) -> torch.Tensor:
        # layout: (N, 3, 299, 299) -> 149 -> 147 -> 147 -> pool 73 -> 73 -> 71 -> pool 35
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)  # (N, 2048)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return f, self.fc(f)


def prepare_inception_input(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 RGB (N, 3, H, W) -> float (N, 3, 299, 299) in [-1, 1] (bilinear, align_corners=False)."""
    x = images_uint8.float() / 255.0
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return 2.0 * x - 1.0


def find_inception_weights(weights: str | Path | None = None, required: bool = True) -> Path | None:
    """The Inception weights file: ``weights``, else ``$GANFORGE_INCEPTION``, else the cache.

    required: raise EvaluatorError saying how to get the file when none is found (else None).
    A path that was given explicitly but does not exist is always an error.
    """
    from ..data.download import cache_root

    for given, where in ((weights, "--inception-weights"), (os.environ.get("GANFORGE_INCEPTION"), "GANFORGE_INCEPTION")):
        if given:
            p = Path(given).expanduser()
            if not p.is_file():
                raise EvaluatorError(f"{where} {p}: no such file; download {WEIGHTS_URL} and give its path")
            return p
    folder = cache_root() / "evaluators"
    for name in (WEIGHTS_NAME, *ALT_NAMES):
        if (folder / name).is_file():
            return folder / name
    if required:
        raise EvaluatorError(f"Inception-v3 features need the FID weights ({WEIGHTS_NAME}, 95 MB), not found; "
                             f"download {WEIGHTS_URL} and pass --inception-weights FILE, set GANFORGE_INCEPTION, "
                             f"or put it in {folder}/")
    return None


def inception_extractor(net: FIDInceptionV3, hash: str, name: str = "inception-v3-fid") -> FeatureExtractor:
    """Wrap a :class:`FIDInceptionV3` as a :class:`FeatureExtractor` (2048-d features, 1008 classes)."""
    return FeatureExtractor(net.eval(), name=name, hash=hash, channels=3, size=None, feature_dim=2048,
                            num_classes=1008, prepare=prepare_inception_input, forward=net,
                            meta={"dataset": None, "input": "299x299 bilinear, [-1, 1]"},
                            input_rule="bilinear resize to 299x299 (align_corners=False), scaled to [-1, 1]",
                            batch_size=32)


def load_inception(weights: str | Path | None = None) -> FeatureExtractor:
    """The FID Inception-v3 with its published weights (see :func:`find_inception_weights`)."""
    path = find_inception_weights(weights)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise EvaluatorError(f"{path}: unreadable Inception weights ({load_failure(e)}); "
                             f"download {WEIGHTS_URL} again") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise EvaluatorError(f"{path}: not an Inception-v3 state dict; download {WEIGHTS_URL}")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    net = FIDInceptionV3()
    expected = set(net.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    # torch-fidelity's copy stores only what its forward needs; BatchNorm counters are optional
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        shown = ", ".join((missing + unexpected)[:3])
        raise EvaluatorError(f"{path}: not the FID Inception-v3 weights ({len(missing)} missing and "
                             f"{len(unexpected)} unexpected entries, e.g. {shown}); download {WEIGHTS_URL}")
    net.load_state_dict(state, strict=False)
    return inception_extractor(net, weights_hash(state))
