"""Devices and precision: which device a run uses, and whether bf16 is worth it there.

Used by training, evaluation and the generator tools alike, so it sits below all of them.
"""
from __future__ import annotations

import torch

from .errors import ConfigError


def resolve_device(name: str | torch.device) -> torch.device:
    """``auto`` picks CUDA when present, else CPU; asking for absent CUDA (or a CUDA index this
    machine lacks, or a name that is no device) is a ConfigError naming --device."""
    name = str(name).strip()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device: {name!r} is not a device (use auto, cpu, cuda or cuda:N)") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device: {name} is not supported (use auto, cpu, cuda or cuda:N)")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device: {name} asked for, but this machine has no CUDA device (use --device cpu)")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ConfigError(f"--device: {name} asked for, but this machine has {count} CUDA device(s) "
                              f"(use cuda:0..cuda:{count - 1})")
    return dev


def cpu_has_bf16() -> bool:
    """Whether the CPU has bf16 instructions oneDNN uses (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _cpuinfo(field: str) -> str:
    """The first value of ``field`` in /proc/cpuinfo ("" where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def cpu_model() -> str:
    """The CPU's model name, for records of where a result was computed."""
    import platform

    return _cpuinfo("model name") or platform.processor() or platform.machine()


def _cpu_vendor() -> str:
    return _cpuinfo("vendor_id")


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast is *faster* here: CUDA with bf16; on CPU, AMX tiles, or AMD's
    AVX512-BF16 (Zen 4 and later).

    Intel CPUs without AMX (or with AMX hidden by a hypervisor) run bf16 dot products no faster
    than fp32 FMAs: on a 2-core Xeon, oneDNN's bf16 convolutions ran up to ~1.7x slower than
    fp32 (``python benchmarks/convs.py``) and ``python benchmarks/throughput.py`` gave tf-tutorial 270 img/s in bf16 vs 349 in
    fp32; on a 2-core AMD EPYC with AVX512-BF16 the same benchmark gave bf16 2.1x fp32.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        if torch.cpu._is_amx_tile_supported():
            return True
    except AttributeError:
        pass
    return cpu_has_bf16() and _cpu_vendor() == "AuthenticAMD"


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` -> bf16 where it is faster than fp32 here (:func:`bf16_supported`), else fp32."""
    if name == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    return name
