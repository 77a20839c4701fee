"""Ablation: RAE vs no baseline (REINFORCE) vs GRPO, same seed and budget, on one recipe's self-play.

SPIRAL reports that without its role-conditioned baseline (RAE) training
degrades. Three runs of one recipe (``spiral-tictactoe`` unless ``--recipe``) differing only in
``advantage.estimator`` go side by side (one CPU thread each, at the same
time); the table shows, at the end, exact exploitability (poker games), the
invalid-move rate, the mean absolute advantage, and the win and non-loss
rates against each evaluation opponent.
Whatever the outcome is, it is reported.

    .venv/bin/python benchmarks/ablation_advantages.py --minutes 10 [--recipe spiral-tictactoe]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import launch, machine, read_metrics, table, wait_all, write_json

ESTIMATORS = ["rae", "reinforce", "grpo"]


def summarize(estimator: str, metrics: list[dict]) -> tuple[dict, list[dict]]:
    """The run's final evaluation and the means of its last 10 training steps, and its evaluation curve."""
    evals = [m for m in metrics if any(k.startswith("eval/") for k in m)]
    train = [m for m in metrics if "learner/loss" in m][-10:]
    last = evals[-1]
    game = next(k.split("/")[1] for k in last if k.startswith("eval/"))
    row = {
        "estimator": estimator,
        "steps": last["step"],
        "invalid": sum(m[f"train/{game}/invalid"] for m in train) / max(1, len(train)),
        "advantage_abs": sum(m["train/advantage_abs"] for m in train) / max(1, len(train)),
    }
    curve = []
    for m in evals:
        point = {"step": m["step"]}
        for key, value in m.items():
            parts = key.split("/")  # eval/GAME/OPPONENT/win (per-seat keys have five parts)
            if len(parts) == 4 and parts[0] == "eval" and parts[3] in ("win", "non_loss"):
                point[f"{parts[3]} vs {parts[2]}"] = value
        if f"eval/{game}/exploitability" in m:
            point["exploitability"] = m[f"eval/{game}/exploitability"]
        curve.append(point)
    row.update({k: v for k, v in curve[-1].items() if k != "step"})
    if "exploitability" in row:
        row["best_exploitability"] = min(p["exploitability"] for p in curve if "exploitability" in p)
    return row, curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--recipe", default="spiral-tictactoe")
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
        row, curves[est] = summarize(est, read_metrics(root / est))
        rows.append(row)
    columns = [("estimator", "estimator", "s"), ("steps", "steps", "d")]
    if any("exploitability" in r for r in rows):
        columns += [("exploitability", "final exploitability", ".3f"), ("best_exploitability", "best", ".3f")]
    columns += [("invalid", "invalid (last 10 steps)", ".3f"), ("advantage_abs", "|A| (last 10)", ".3f")]
    columns += [(k, k, ".2f") for k in rows[0] if k.startswith(("win vs", "non_loss vs"))]
    print(table(rows, columns))
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
