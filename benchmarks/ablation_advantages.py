"""Ablation: RAE vs no baseline (REINFORCE) vs GRPO, same seed and budget, on Kuhn poker self-play.

SPIRAL reports that without its role-conditioned baseline (RAE) training
degrades. Three runs of ``spiral-kuhn`` differing only in
``advantage.estimator`` go side by side (one CPU thread each, at the same
time); the table shows, at the end, exact exploitability, the invalid-move
rate, the mean absolute advantage and win rates vs random and CFR.
Whatever the outcome is, it is reported.

    .venv/bin/python benchmarks/ablation_advantages.py --minutes 10
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import launch, machine, read_metrics, table, wait_all, write_json

ESTIMATORS = ["rae", "reinforce", "grpo"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--recipe", default="spiral-kuhn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default="benchmarks/runs/ablation_advantages")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--out", default="benchmarks/results/ablation_advantages.json")
    args = parser.parse_args()
    root = Path(args.root)
    common = [f"max_minutes={args.minutes}", "max_steps=100000", "eval.every=10", "eval.games=40", f"seed={args.seed}", *args.set]
    procs = []
    for est in ESTIMATORS:
        if (root / est).exists():
            raise SystemExit(f"{root / est} exists; remove it or pass --root")
        root.mkdir(parents=True, exist_ok=True)
        procs.append(launch(args.recipe, root / est, [*common, f"advantage.estimator={est}"], threads=1, log=root / f"{est}.log"))
    wait_all(procs)
    rows, curves = [], {}
    for est in ESTIMATORS:
        metrics = read_metrics(root / est)
        evals = [m for m in metrics if any(k.endswith("/exploitability") for k in m)]
        game = next(k.split("/")[1] for k in evals[-1] if k.endswith("/exploitability"))
        train = [m for m in metrics if "learner/loss" in m]
        last = evals[-1]
        curves[est] = [{"step": m["step"], "exploitability": m[f"eval/{game}/exploitability"]} for m in evals]
        rows.append(
            {
                "estimator": est,
                "steps": last["step"],
                "exploitability": last[f"eval/{game}/exploitability"],
                "best_exploitability": min(c["exploitability"] for c in curves[est]),
                "invalid": sum(m[f"train/{game}/invalid"] for m in train[-10:]) / max(1, len(train[-10:])),
                "advantage_abs": sum(m["train/advantage_abs"] for m in train[-10:]) / max(1, len(train[-10:])),
                "win_vs_random": last.get(f"eval/{game}/random/win"),
                "win_vs_cfr": last.get(f"eval/{game}/cfr:iters=200/win"),
            }
        )
    print(
        table(
            rows,
            [
                ("estimator", "estimator", "s"),
                ("steps", "steps", "d"),
                ("exploitability", "final exploitability", ".3f"),
                ("best_exploitability", "best", ".3f"),
                ("invalid", "invalid (last 10 steps)", ".3f"),
                ("advantage_abs", "|A| (last 10)", ".3f"),
                ("win_vs_random", "win vs random", ".2f"),
                ("win_vs_cfr", "win vs cfr", ".2f"),
            ],
        )
    )
    write_json(
        Path(args.out),
        {
            "benchmark": "ablation_advantages",
            "machine": machine(),
            "minutes": args.minutes,
            "recipe": args.recipe,
            "overrides": common,
            "rows": rows,
            "curves": curves,
        },
    )


if __name__ == "__main__":
    main()
