"""Precision in the tests: the one place that pins fp32 or reads what is in use.

``make test`` runs with whatever ``auto`` picks on this machine (bf16 autocast on a
CPU with native bf16, fp32 elsewhere); ``make test-bf16`` forces bf16 through
``SPARRING_PRECISION`` and ``make test-fp32`` forces fp32, so one machine can run the
suite as either kind of machine does. A test that compares numbers therefore
pins the precision it assumes here: fp32 for exact comparisons (resume equals an
uninterrupted run, one worker equals local, N processes equal one, batched equals
one at a time, a PPO ratio of exactly 1). bf16 has no tight tolerance that holds on
every CPU: native kernels round differently with the batch shape, and a bf16 logit
near 20 moves in steps of 0.125. Tests of behaviour (it learns, it logs, it falls
back to an intact checkpoint) run in whatever precision is in use: a run's
``model.precision`` is ``auto``, a bare ``HFEngine`` autocasts as ``auto`` says,
and a bare ``Learner`` is fp32 unless given ``precision=in_use()``.
"""

from __future__ import annotations

import torch

from sparring.device import autocast_dtype

FP32 = "float32"
"""``HFEngine(..., autocast=FP32)``: an engine whose numbers do not depend on the machine."""

FP32_RUN = f"model.precision={FP32}"
"""The config override that pins a training run (engine and learner) to fp32."""

BF16 = "bfloat16"
"""``HFEngine(..., autocast=BF16)``: compared with vLLM, which samples in bf16 on every GPU."""


def in_use() -> torch.dtype | None:
    """The autocast dtype an unpinned CPU engine or run gets here (None: fp32)."""
    return autocast_dtype("cpu")
