"""Where and in which precision to run, decided from the machine rather than assumed.

bfloat16 on a CPU is only fast with native support (AVX-512 BF16 or AMX):
there it is 1.6-1.9x faster than fp32 (shared/reference/cpu-notes.md). On an
AVX2-only CPU, such as some of the machines this project runs on, a bf16
matmul is emulated and was measured about 500x *slower* than fp32. So autocast
is chosen per machine, never hard-coded.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache

import torch


@lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU advertises native bf16 arithmetic (AVX-512 BF16 or AMX-BF16)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(device: torch.device | str, requested: str | None = "auto") -> torch.dtype | None:
    """The dtype to autocast forward passes to on ``device`` (None: full fp32).

    ``requested``: ``auto`` (bf16 on GPUs and on CPUs with fast bf16), ``bfloat16``, ``float32``/None.
    """
    device = torch.device(device)
    if requested in (None, "float32", "fp32", "none"):
        return None
    if requested in ("bfloat16", "bf16"):
        return torch.bfloat16
    if requested != "auto":
        raise ValueError(f"precision must be auto, bfloat16 or float32, not {requested!r}")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if cpu_has_fast_bf16() else None


def autocast(device: torch.device | str, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to ``dtype``, or a no-op context when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)
