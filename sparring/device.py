"""Where and in which precision to run, decided from the machine rather than assumed.

bfloat16 on a CPU is only fast with native support (AVX-512 BF16 or AMX):
there it is 1.6-1.9x faster than fp32 (shared/reference/cpu-notes.md). On an
AVX2-only CPU, such as some of the machines this project runs on, a bf16
matmul is emulated and was measured about 500x *slower* than fp32. So autocast
is chosen per machine, never hard-coded.

``SPARRING_PRECISION`` (bf16, fp32 or auto) overrides what ``auto`` resolves
to, so one machine can run everything (the test suite above all) the way a
machine of the other kind would; an explicit ``model.precision`` still wins.
torch is imported inside the functions: the CLI checks the variable at start-up
and does not import torch for commands that need no model.
"""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache
from typing import TYPE_CHECKING

from sparring.errors import UserError

if TYPE_CHECKING:
    import torch

PRECISION_ENV = "SPARRING_PRECISION"
_NAMES = {"bf16": "bfloat16", "bfloat16": "bfloat16", "fp32": "float32", "float32": "float32"}


def forced_precision() -> str | None:
    """``bfloat16`` or ``float32`` when ``SPARRING_PRECISION`` forces what ``auto`` means; None when unset or auto.

    Read on every call, not cached: tests set it per process, and subprocesses inherit it.
    """
    value = os.environ.get(PRECISION_ENV, "").strip().lower()
    if value in ("", "auto"):
        return None
    if value not in _NAMES:
        raise UserError(f"{PRECISION_ENV}={value!r} is not a precision; use bf16, fp32 or auto")
    return _NAMES[value]


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

    ``requested``: ``auto`` (``SPARRING_PRECISION`` if set, else bf16 on GPUs and on CPUs with fast bf16),
    ``bfloat16``, ``float32``/None.
    """
    import torch

    device = torch.device(device)
    if requested == "auto":
        requested = forced_precision() or ("bfloat16" if native_bf16(device) else "float32")
    if requested in (None, "float32", "fp32", "none"):
        return None
    if requested in ("bfloat16", "bf16"):
        return torch.bfloat16
    raise ValueError(f"precision must be auto, bfloat16 or float32, not {requested!r}")


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 natively (what ``auto`` picks when nothing forces it)."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_has_fast_bf16()


def autocast(device: torch.device | str, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to ``dtype``, or a no-op context when ``dtype`` is None."""
    import torch

    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)
