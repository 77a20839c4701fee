"""Rollout throughput: self-play games/s and generated tokens/s, one process vs Ray rollout workers.

Each mode plays the same training steps through the loop's own rollout
object, ``t.rollout.play(step, plan)`` (so Ray modes include sending the weights to the
workers, as every training step does), after one warm-up step that is not
timed (worker start, first forward). Modes: ``local-Tt`` (the loop's engine in
this process with T torch threads, for each T in ``--threads``) and ``ray-N``
(N workers of ``--worker-cpus`` CPUs and threads each, on a local Ray cluster
of exactly that size). One worker plays the very games of the local process
(same seed); N workers play other, equally many games. Prints a table and
writes JSON.

    .venv/bin/python benchmarks/rollout_throughput.py [--threads 1,2] [--workers 1,2] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from sparring.checkpoint import RunDir
from sparring.config import load_config
from sparring.distributed.dispatch import RayRollout, generated_tokens
from sparring.train import build


def measure(overrides: list[str], steps: int) -> dict[str, float]:
    """Play ``steps`` timed steps (after one untimed) and return games/s and tokens/s over them."""
    config = load_config("spiral-tictactoe", overrides)
    with tempfile.TemporaryDirectory() as tmp:
        t = build(config, RunDir(Path(tmp) / "run"))
        try:
            games = tokens = 0
            seconds = 0.0
            for step in range(steps + 1):
                t.step = step
                plan = t.league.plan(step, config.rollout.games_per_step)
                if isinstance(t.rollout, RayRollout) and t.rollout.pool is not None:
                    t.rollout.pool.version = None  # every training step sends new weights; so does every step here
                started = time.perf_counter()
                records = t.rollout.play(step, plan)
                if step > 0:
                    seconds += time.perf_counter() - started
                    games += len(records)
                    tokens += generated_tokens(records)
        finally:
            t.rollout.close()  # also stops the local Ray cluster the workers started
    rates = {"games_per_s": games / seconds, "tokens_per_s": tokens / seconds}
    return {"games": games, "tokens": tokens, "seconds": seconds, **rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--games", type=int, default=32, help="games per step")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per mode")
    parser.add_argument("--workers", default="1,2", help="Ray worker counts to compare with the local process")
    parser.add_argument("--threads", default=f"1,{os.cpu_count() or 1}", help="torch thread counts of the local process")
    parser.add_argument("--worker-cpus", type=float, default=1.0)
    parser.add_argument("--worker-gpus", type=float, default=None, help="per worker (default: 1/N of one GPU on cuda)")
    parser.add_argument("--out", default="benchmarks/results/rollout_throughput.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    common = [
        f"model.path={args.model}",
        f"model.device={args.device}",
        f"rollout.games_per_step={args.games}",
        f"sampling.max_new_tokens={args.max_new_tokens}",
    ]
    rows = []
    for threads in sorted({int(x) for x in args.threads.split(",") if x}):
        torch.set_num_threads(threads)
        rows.append({"mode": f"local-{threads}t", "processes": 1, "threads_each": threads, **measure(common, args.steps)})
    torch.set_num_threads(1)  # the driver only waits for the workers
    for n in [int(w) for w in args.workers.split(",") if w]:
        gpus = args.worker_gpus if args.worker_gpus is not None else (1.0 / n if args.device.startswith("cuda") else 0.0)
        ray_args = [
            "distributed.backend=ray",
            f"distributed.rollout_workers={n}",
            f"distributed.worker_cpus={args.worker_cpus}",
            f"distributed.worker_gpus={gpus}",
        ]
        result = measure(common + ray_args, args.steps)
        rows.append({"mode": f"ray-{n}", "processes": n, "threads_each": max(1, int(args.worker_cpus)), **result})
    base = rows[0]["games_per_s"]
    for row in rows:
        row["speedup_vs_first"] = row["games_per_s"] / base
    print(f"{'mode':>9} {'procs':>5} {'games/s':>8} {'tok/s':>8} {'vs first':>8}")
    for row in rows:
        print(
            f"{row['mode']:>9} {row['processes']:>5} {row['games_per_s']:>8.2f} {row['tokens_per_s']:>8.0f}"
            f" {row['speedup_vs_first']:>7.2f}x"
        )
    result = {
        "benchmark": "rollout_throughput",
        "model": args.model,
        "device": args.device,
        "games_per_step": args.games,
        "max_new_tokens": args.max_new_tokens,
        "timed_steps": args.steps,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": {"start": load_before, "end": os.getloadavg()},
        "note": "1-, 5-, 15-minute load averages: other jobs on the machine share its CPUs",
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
