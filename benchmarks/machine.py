"""What the benchmark scripts record about the machine beside their figures."""
from __future__ import annotations

import platform
from pathlib import Path

import torch


def machine_info(device: torch.device | str = "cpu") -> dict:
    """Python/torch versions, CPU model, vendor and bf16-relevant ISA, threads, the 1-minute load
    average and the GPU if used."""
    info = {"python": platform.python_version(), "torch": torch.__version__, "cpu": platform.machine(),
            "threads": torch.get_num_threads(), "device": str(device)}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
            elif line.startswith("vendor_id"):
                info["cpu_vendor"] = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):  # the ISA that decides fp32 vs bf16 speed
                flags = set(line.split(":", 1)[1].split())
                info["cpu_isa"] = sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
                break
    except OSError:
        pass
    try:  # a busy machine explains a slow figure
        info["loadavg_1min"] = float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
