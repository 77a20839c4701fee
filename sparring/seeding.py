"""Seeds and RNG states: every random stream of a run is a function of (seed, step, salt).

The loop, the league and the Ray shards draw their seeds here, so one worker
holding every table samples exactly as one process does, and a resumed run
continues the streams of the run it resumes (:func:`save_rng_state` /
:func:`load_rng_state` travel in each checkpoint). Nothing here imports
anything of sparring: every module may import it.
"""

from __future__ import annotations

import random
from typing import Any


def step_rng(seed: int, step: int, salt: str = "") -> random.Random:
    """A private ``random.Random`` for one purpose (``salt``) at one step of a run."""
    return random.Random(f"{seed}/{step}/{salt}")


def step_seed(seed: int, step: int, salt: str) -> int:
    """A 62-bit seed for one purpose (``salt``) at one step, e.g. the policy engine's ``"sample"`` stream."""
    return step_rng(seed, step, salt).randrange(1 << 62)


def save_rng_state() -> dict[str, Any]:
    """The global RNG states of python ``random``, numpy and torch (CPU and every CUDA device).

    Plain lists, ints and tensors only, so ``torch.load(..., weights_only=True)`` accepts it.
    """
    import numpy as np

    version, internal, gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": [int(k) for k in np_state["state"]["key"]],
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
    }
    try:
        import torch
    except ImportError:  # torch is only needed by training; a run dir works without it
        return state
    state["torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def load_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`save_rng_state` returned.

    CUDA states are restored for the devices present (a resume on fewer GPUs restores the first ones).
    """
    import numpy as np

    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    npst = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": npst["bit_generator"],
            "state": {"key": np.asarray(npst["key"], dtype=np.uint32), "pos": npst["pos"]},
            "has_gauss": npst["has_gauss"],
            "gauss": npst["gauss"],
        }
    )
    if "torch" not in state:
        return
    import torch

    torch.set_rng_state(state["torch"])
    cuda_states = state.get("torch_cuda")
    if cuda_states and torch.cuda.is_available():
        for device, cuda_state in enumerate(cuda_states[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, device)
