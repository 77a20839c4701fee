"""Make a deeper copy of a model that computes exactly the same function: does depth buy learning per CPU minute?

Each of the model's layers is followed by ``--factor - 1`` new ones whose attention and MLP output projections
are zero, so each new block adds nothing to the residual stream (a zero-initialised residual branch) and the
copy's logits equal the original's; the new blocks' other weights are freshly initialised, and training moves
the zero projections first. The copy starts from every figure the original has (same answers, same base
scores), so a ceiling or learning benchmark run from it measures depth alone, at its price per step.

    .venv/bin/python benchmarks/deepen.py /tmp/deep8            # the bundled model, 4 -> 8 layers
    .venv/bin/python benchmarks/ceiling.py --task tictactoe --model /tmp/deep8 --minutes 10
"""

from __future__ import annotations

import argparse
import copy
import shutil
from pathlib import Path

import torch

from sparring.engines.paths import BUNDLED


def deepen(src: Path, dst: Path, factor: int, seed: int = 0) -> float:
    """Write the deeper copy to ``dst``; returns the largest logit difference from the original on a probe."""
    from transformers import AutoModelForCausalLM

    old = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    config = copy.deepcopy(old.config)
    layers = config.num_hidden_layers
    config.num_hidden_layers = layers * factor
    torch.manual_seed(seed)
    new = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    state = new.state_dict()
    for name, value in old.state_dict().items():
        if ".layers." not in name:
            state[name] = value.clone()
    for i in range(layers):
        for name, value in old.state_dict().items():
            if f"model.layers.{i}." in name:
                state[name.replace(f"model.layers.{i}.", f"model.layers.{i * factor}.")] = value.clone()
        for j in range(1, factor):
            prefix = f"model.layers.{i * factor + j}."
            for name in state:
                if name.startswith(prefix) and name.endswith(("o_proj.weight", "down_proj.weight")):
                    state[name] = torch.zeros_like(state[name])
    new.load_state_dict(state)
    dst.mkdir(parents=True, exist_ok=True)
    for path in src.iterdir():
        if path.is_file() and path.name not in ("model.safetensors", "config.json"):
            shutil.copy(path, dst / path.name)
    new.save_pretrained(dst)
    probe = torch.randint(3, config.vocab_size, (1, 64), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return float((old(probe).logits - new(probe).logits).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="directory for the deeper copy")
    parser.add_argument("--model", default=str(BUNDLED), help="the model to deepen (default: the bundled one)")
    parser.add_argument("--factor", type=int, default=2, help="layers in the copy per layer of the original")
    args = parser.parse_args()
    if args.factor < 2:
        raise SystemExit("--factor must be at least 2")
    diff = deepen(Path(args.model), Path(args.out), args.factor)
    print(f"wrote {args.out}: {args.factor}x the layers, largest logit difference from the original {diff:.2e}")


if __name__ == "__main__":
    main()
