"""What this CPU can do fast: native bf16 (AVX512-BF16, AMX, Arm BF16), int8 dot products (VNNI), the vector width.

Read once per process from ``/proc/cpuinfo`` (Linux), else from torch's own CPU capability check. On a CPU without
native bf16, bf16 and fp16 matrix multiplies are emulated and ~100x slower than fp32, so flagcore computes in bf16
on a CPU only where :func:`cpu_report` says it is native. ``FLAGCORE_CPU_BF16=1`` / ``=0`` overrides the detection
(a virtual machine may hide the flags).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: set to 1 or 0 to say whether the CPU has native bf16, whatever the detection found
CPU_BF16_ENV = "FLAGCORE_CPU_BF16"

#: the feature flags that decide a path, in the order they are reported (x86 names, then Arm's)
REPORTED_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
                  "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "asimddp", "bf16", "i8mm", "sve")
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")


@dataclass(frozen=True)
class CpuReport:
    """This machine's CPU as flagcore sees it."""

    name: str
    logical_cores: int
    architecture: str
    flags: tuple[str, ...]
    native_bf16: bool
    bf16_source: str  # "flags", the environment variable's name, or "torch"

    @property
    def int8_dot(self) -> bool:
        """Whether int8 dot-product instructions (VNNI, AMX-INT8, Arm dot product) are there."""
        return any(flag in self.flags for flag in INT8_DOT_FLAGS)

    def describe(self) -> str:
        """One line: name, cores, the deciding flags, and whether bf16 is native."""
        bf16 = "yes" if self.native_bf16 else "no (bf16 would be emulated: use_bf16 stays fp32 here)"
        if self.bf16_source == CPU_BF16_ENV:
            bf16 += f" (set by {CPU_BF16_ENV})"
        flags = " ".join(self.flags) or "none of the deciding flags found"
        return (f"{self.name}, {self.logical_cores} logical cores, {self.architecture}; flags: {flags}; "
                f"native bf16: {bf16}")

    def as_record(self) -> dict[str, object]:
        """The report as a JSON-ready dict (benchmark records carry it)."""
        return {"cpu": self.name, "logical_cores": self.logical_cores, "architecture": self.architecture,
                "flags": list(self.flags), "native_bf16": self.native_bf16, "int8_dot": self.int8_dot}


def parse_cpuinfo(text: str) -> tuple[str | None, frozenset[str] | None]:
    """(CPU name, feature flags) from the text of ``/proc/cpuinfo`` (x86 "flags", Arm "Features"); None for what
    the text does not say."""
    name: str | None = None
    flags: frozenset[str] | None = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model") and value.strip() and name is None:
            name = value.strip()
        elif key in ("flags", "features") and flags is None:
            flags = frozenset(value.split())
    return name, flags


@lru_cache(maxsize=1)
def _detected() -> tuple[str, frozenset[str] | None]:
    """(CPU name, its flags) of this machine; flags None where /proc/cpuinfo is not there or says nothing of them."""
    fallback = platform.processor() or platform.machine() or "unknown CPU"
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return fallback, None
    name, flags = parse_cpuinfo(text)
    return name or fallback, flags


def _torch_says_bf16() -> bool:
    """torch's own check of AVX512-BF16 / AMX, used where /proc/cpuinfo is not there."""
    import torch

    checks = [getattr(torch._C._cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


def cpu_report() -> CpuReport:
    """This CPU's name, deciding flags and whether it computes bf16 natively (the environment override applies)."""
    name, flags = _detected()
    present = tuple(flag for flag in REPORTED_FLAGS if flags is not None and flag in flags)
    override = os.environ.get(CPU_BF16_ENV, "").strip()
    if override in ("0", "1"):
        native, source = override == "1", CPU_BF16_ENV
    elif override:
        raise ValueError(f"{CPU_BF16_ENV}={override!r}: set it to 1 (the CPU has native bf16) or 0 (it has not), "
                         "or unset it to detect")
    elif flags is not None:
        native, source = any(flag in present for flag in BF16_FLAGS), "flags"
    else:
        native, source = _torch_says_bf16(), "torch"
    return CpuReport(name=name, logical_cores=os.cpu_count() or 1, architecture=platform.machine() or "unknown",
                     flags=present, native_bf16=native, bf16_source=source)


def has_native_bf16() -> bool:
    """Whether bf16 matrix multiplies run natively (faster than fp32) on this CPU."""
    return cpu_report().native_bf16
