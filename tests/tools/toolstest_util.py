"""Tiny stand-ins for the tools tests: generators small enough to run thousands of samples in
milliseconds, a conditional one (the interface conditional GANs have: ``G.num_classes > 0``,
``G(z, y)``), and a fake evaluator classifier that sorts images by brightness."""
from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from torch import nn

BRIGHTNESS_CLASSES = ["Dark", "Mid grey", "Ankle boot"]  # a name with a space, for the parser


class TinyG(nn.Module):
    """Unconditional: z (N, z_dim) -> tanh images (N, 1, 8, 8)."""

    num_classes = 0

    def __init__(self, z_dim: int = 8, seed: int = 0):
        super().__init__()
        self.z_dim, self.img_channels, self.img_size, self.output = z_dim, 1, 8, "tanh"
        g = torch.Generator().manual_seed(seed)
        self.fc = nn.Linear(z_dim, 64)
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(64, z_dim, generator=g) * 0.5)
            self.fc.bias.copy_(torch.randn(64, generator=g) * 0.1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc(z)).reshape(-1, 1, 8, 8)


class TinyCondG(TinyG):
    """Conditional: G(z, y) with y int64 (N,); the class shifts the brightness. Records every y."""

    def __init__(self, z_dim: int = 8, num_classes: int = 3, seed: int = 0):
        super().__init__(z_dim, seed)
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, 64)
        with torch.no_grad():
            self.embed.weight.copy_(torch.linspace(-1, 1, num_classes)[:, None].expand(num_classes, 64))
        self.seen_y: list[torch.Tensor] = []

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing() and not torch.compiler.is_exporting():
            self.seen_y.append(y.detach().cpu().clone())
        return torch.tanh(self.fc(z) + self.embed(y)).reshape(-1, 1, 8, 8)


def brightness_probs(images: torch.Tensor) -> torch.Tensor:
    """Fake evaluator: p(class | image) from the mean pixel value, classes dark / mid / bright."""
    m = images.float().mean(dim=(1, 2, 3)) / 255.0
    centres = torch.tensor([0.2, 0.5, 0.8])
    return torch.softmax(-((m[:, None] - centres) ** 2) * 200.0, dim=1)


# --------------------------------------------------------------------------- commands on a trained run
def check_evaluate(cli, run) -> None:
    """``ganforge evaluate RUN`` works (the plumbing only: a random-weight evaluator gives the features)."""
    from ganforge.metrics.networks import evaluator_path, random_evaluator, save_evaluator

    net, meta = random_evaluator("fashion-mnist")
    save_evaluator(net, meta, evaluator_path("fashion-mnist"))
    code, out, err = cli("evaluate", run, "-n", 16, "--json", "--no-progress")
    assert code == 0, err
    m = json.loads(out)["metrics"]
    assert m["fd"] >= 0 and 0 <= m["precision"] <= 1


def export_onnx(cli, run, path, *flags) -> str:
    """``ganforge export RUN --format onnx --out PATH FLAGS``; returns its output. Without the onnx
    package the error that says how to get it is checked and the test skipped."""
    code, out, err = cli("export", run, "--format", "onnx", "--out", path, *flags)
    if importlib.util.find_spec("onnx") is None:
        assert code == 2 and "pip install ganforge[onnx]" in err
        pytest.skip("onnx is not installed (pip install ganforge[onnx]); checked the error instead")
    assert code == 0, err
    assert path.is_file()
    if importlib.util.find_spec("onnxruntime") is None:
        assert "onnxruntime is not installed" in out
    else:
        assert "ran with onnxruntime" in out
    return out
