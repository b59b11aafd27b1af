"""Two single-conv timings behind ganforge's CPU defaults (forward + backward, batch 256):

* tf-tutorial D's conv2 (64 -> 128, 5x5, stride 2, 14x14) with TensorFlow's asymmetric 'same'
  padding done by ``F.pad`` vs the same windows from the conv's own symmetric padding, which is
  what ``--mirror-padding`` runs;
* tf-tutorial G's deconv1 (256 -> 128, 5x5 transposed, 7x7) in fp32 vs bf16 autocast, the
  difference ``--precision auto`` decides on.

    python benchmarks/convs.py
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F


def ms(f, n: int = 8) -> float:
    f(), f()
    t = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t) / n * 1e3


def main() -> None:
    x = torch.randn(256, 64, 14, 14, requires_grad=True)
    w = torch.randn(128, 64, 5, 5, requires_grad=True)
    padded = ms(lambda: F.conv2d(F.pad(x, (1, 2, 1, 2)), w, stride=2).sum().backward())
    own = ms(lambda: F.conv2d(x, w, stride=2, padding=2).sum().backward())
    print(f"D conv2 fwd+bwd: F.pad(1,2) + conv {padded:.1f} ms, conv padding=2 {own:.1f} ms")

    x2 = torch.randn(256, 256, 7, 7, requires_grad=True)
    w2 = torch.randn(256, 128, 5, 5, requires_grad=True)

    def fp32():
        F.conv_transpose2d(x2, w2, padding=2).float().sum().backward()

    def bf16():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fp32()

    print(f"G deconv1 fwd+bwd: fp32 {ms(fp32):.1f} ms, bf16 autocast {ms(bf16):.1f} ms")


if __name__ == "__main__":
    main()
