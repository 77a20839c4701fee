"""Generation throughput of an engine (HFEngine or VLLMEngine): new tokens/s at batch 1, 16 and 64 games.

Each batch holds tic-tac-toe prompts from different positions (so prompts
differ after the shared rules prefix, as in a real rollout). ``ignore_eos``
makes every sequence generate exactly ``--new-tokens`` tokens, so tokens/s
is comparable across batch sizes. Prints a table and writes JSON.

    .venv/bin/python benchmarks/generation_throughput.py [--model bundled] [--device cpu]
    python benchmarks/generation_throughput.py --device cuda --engine vllm   # same prompts through vLLM (extra gpu)
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from pathlib import Path

import torch

from sparring.device import autocast_dtype
from sparring.engines import load_hf_engine
from sparring.engines.base import SamplingParams
from sparring.games import make_game
from sparring.prompts import encode_chat, render_messages


def prompts(tokenizer, n: int, seed: int = 0) -> list[list[int]]:
    game = make_game("tic_tac_toe")
    rng = random.Random(seed)
    out = []
    for i in range(n):
        state = game.new_state(i)
        for _ in range(rng.randrange(5)):
            state.apply(rng.choice(state.legal_actions()))
        out.append(encode_chat(tokenizer, render_messages(game, state, state.current_player)))
    return out


def measure(engine, batch: list[list[int]], new_tokens: int, repeats: int) -> float:
    params = SamplingParams(max_new_tokens=new_tokens, ignore_eos=True, seed=0)
    engine.generate(batch, params)  # warm-up
    start = time.perf_counter()
    generated = 0
    for r in range(repeats):
        out = engine.generate(batch, SamplingParams(max_new_tokens=new_tokens, ignore_eos=True, seed=r))
        generated += sum(len(g.token_ids) for g in out)
    return generated / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--batches", default="1,16,64")
    parser.add_argument("--engine", choices=["hf", "vllm"], default="hf")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.45, help="vLLM's share of the GPU")
    parser.add_argument("--out", default=None, help="default: benchmarks/results/generation_throughput[_vllm].json")
    args = parser.parse_args()
    suffix = "" if args.engine == "hf" else f"_{args.engine}"
    args.out = args.out or f"benchmarks/results/generation_throughput{suffix}.json"
    if args.engine == "vllm":
        from sparring.engines import resolve_model_path
        from sparring.engines.vllm import VLLMEngine

        engine = VLLMEngine(resolve_model_path(args.model), gpu_memory_utilization=args.gpu_memory_utilization)
    else:
        engine = load_hf_engine(args.model, device=args.device)
    sizes = [int(b) for b in args.batches.split(",")]
    all_prompts = prompts(engine.tokenizer, max(sizes))
    rows = []
    for size in sizes:
        repeats = max(2, 64 // size)
        tps = measure(engine, all_prompts[:size], args.new_tokens, repeats)
        rows.append({"batch": size, "new_tokens_per_s": tps})
    base = rows[0]["new_tokens_per_s"]
    for row in rows:
        row["speedup_vs_batch_1"] = row["new_tokens_per_s"] / base
    print(f"{'batch':>6} {'new tok/s':>10} {'vs batch 1':>10}")
    for row in rows:
        print(f"{row['batch']:>6} {row['new_tokens_per_s']:>10.0f} {row['speedup_vs_batch_1']:>9.1f}x")
    result = {
        "benchmark": "generation_throughput",
        "engine": args.engine,
        "model": args.model,
        "device": args.device,
        "new_tokens": args.new_tokens,
        "prompt_tokens_mean": sum(len(p) for p in all_prompts) / len(all_prompts),
        "autocast": str(autocast_dtype(args.device)) if args.engine == "hf" else "bfloat16 weights (vLLM)",
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") and torch.cuda.is_available() else None,
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    from sparring.errors import UserError

    try:
        main()
    except UserError as err:  # no GPU, no vLLM, no model: one line, no traceback
        raise SystemExit(f"error: {err}") from None
