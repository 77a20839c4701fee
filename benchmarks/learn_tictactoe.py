"""Learning benchmark: tic-tac-toe by self-play or in a league, judged greedily against perfect play.

Each variant trains from the bundled base model for the same CPU-time budget
(one CPU thread per run, ``--parallel`` runs at a time) and keeps a
checkpoint every ``--every`` steps. Afterwards every kept checkpoint plays
greedily (temperature 0) against ``minimax`` -- perfect, breaking ties at
random -- ``--games`` games in each seat, and against ``random``. Reported:
non-loss rate vs minimax per seat with 95% Wilson intervals, win rate vs
random, invalid-move rate; and (unless ``--no-exact``) the exact scores of the
sampled policy against perfect play, ``sparring.evaluate.solved``: non-loss
per seat without game noise, and how often it takes a win in one, blocks one
and keeps the position's value. Goal from the issue: >= 95% non-loss vs minimax in
each seat within 30 CPU minutes, invalid moves < 1%.

    .venv/bin/python benchmarks/learn_tictactoe.py --minutes 30 [--variants plain,tictactoe]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import (
    budget_overrides,
    chosen_variants,
    cpu_minutes,
    line_chart,
    machine,
    run_variants,
    start_model,
    table,
    write_json,
)

from sparring.checkpoint import RunDir, list_checkpoints
from sparring.evaluate.solved import solved_scores
from sparring.evaluate.suite import evaluate_game
from sparring.games import make_game
from sparring.players import make_player

GENTLE = ["learner.adam_eps=1e-4"]
"""AdamW's epsilon near this model's per-weight gradient: steps shrink with the advantage (the kuhn recipe)."""
SELF = ["opponent.kind=self"]
"""The self-play variants: the `tictactoe` recipe plays `minimax` since the league tables below; these set its
opponent back to itself, so each variant is the config it was measured with."""

VARIANTS: dict[str, tuple[str, list[str], str]] = {
    "plain": ("spiral-tictactoe", [], "SPIRAL's update (RAE per role, one epoch, lr 3e-4)"),
    "tictactoe": (
        "tictactoe",
        [],
        "the project's recipe for this game on CPU (see its YAML): against `minimax` in every game, no magnet",
    ),
    "per_board": (
        "tictactoe",
        [*SELF, "learner.kl_coef=0", "learner.adam_eps=1e-8"],
        "the self-play recipe as it was until the magnet joined it (and the `tictactoe` variant of the earlier "
        "tables): the per-board baseline and invalid moves charged to their own turn, AdamW's usual epsilon, no KL",
    ),
    "tictactoe_average_magnet": (
        "tictactoe",
        [*SELF, *GENTLE, "learner.kl_coef=0.5", "learner.average_weights=0.98", "reference.magnet=average"],
        "self-play with the kuhn recipe's gentler steps (AdamW epsilon 1e-4) and KL 0.5 to the weight average",
    ),
    "tictactoe_base_magnet": (
        "tictactoe",
        [*SELF, *GENTLE, "learner.kl_coef=0.5", "reference.update_every=0"],
        "self-play with AdamW epsilon 1e-4 and KL 0.5 to the start model, never moved (a fixed magnet: MMD); "
        "the `tictactoe` recipe and the demo until the league tables",
    ),
    "plain_entropy": (
        "spiral-tictactoe",
        ["learner.entropy_coef=0.05"],
        "SPIRAL's update with an entropy bonus (0.05 per answer token): self-play from the bundled model collapses "
        "within 40 steps onto one line per seat whose mistakes its own other seat never punishes",
    ),
    "tictactoe_sharp": (
        "tictactoe",
        [*SELF, *GENTLE, "learner.kl_coef=0.5", "learner.average_weights=0.98", "reference.magnet=average"]
        + ["sampling.temperature=0.5"],
        "tictactoe_average_magnet with self-play sampled at temperature 0.5 (the learner scores the same tempered "
        "policy): an opponent that takes its wins far more often, so a missed block costs what it costs "
        "against minimax",
    ),
    "league_minimax": (
        "tictactoe",
        ["learner.kl_coef=0.5"],
        "the recipe with the fixed magnet kept (KL 0.5 to the start model): against `minimax` in every game",
    ),
    "league_minimax_free": ("tictactoe", [], "the `tictactoe` recipe (league_minimax without the magnet)"),
    "league_minimax_mix": (
        "tictactoe",
        ["opponent.fixed_self_play_share=0.5"],
        "a league of two, no magnet: half the games in self-play, half against `minimax`",
    ),
    "league_noisy_minimax": (
        "tictactoe",
        ["opponent.fixed=minimax:epsilon=0.3"],
        "the recipe against a noisy expert (`minimax:epsilon=0.3`: a random move 30% of the time), so that O, "
        "which loses nearly every game to perfect play, sometimes draws or wins and has a signal",
    ),
    "league_noisy_minimax_01": (
        "tictactoe",
        ["opponent.fixed=minimax:epsilon=0.1"],
        "the recipe against `minimax:epsilon=0.1`: a random move 10% of the time, so that the lines it learns "
        "must also meet moves perfect play never makes",
    ),
}


def evaluate_checkpoint(model_dir: Path, games: int, exact: bool = True) -> dict:
    """Greedy play of one model vs minimax (``games`` per seat) and random (``games`` in all); with ``exact``,
    also the exact scores of its sampled policy against perfect play (``sparring.evaluate.solved``, ~1 CPU
    minute): non-loss per seat without game noise, and the tactic rates (take a win, block, keep the value)."""
    game = make_game("tic_tac_toe")
    policy = make_player(f"model:path={model_dir},temperature=0,max_new_tokens=16", game)
    result = evaluate_game(game, "tic_tac_toe", policy, ["minimax", "random"], 2 * games, with_exploitability=False)
    vs_minimax = result.vs["minimax"]
    row = {"invalid": (vs_minimax["invalid"] + result.vs["random"]["invalid"]) / 2, "win_vs_random": result.vs["random"]["win"]}
    for seat, stats in vs_minimax["by_seat"].items():
        low, high = stats["intervals"]["loss"]
        row[f"non_loss_seat{seat}"] = 1 - stats["loss"]
        row[f"non_loss_seat{seat}_ci"] = [1 - high, 1 - low]
    if exact:
        scores = solved_scores(game, make_player(f"model:path={model_dir}", game))
        row.update({f"exact_{k}": v for k, v in scores.items() if k != "positions"})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from: {', '.join(VARIANTS)}")
    parser.add_argument("--minutes", type=float, default=30.0, help="CPU-minute budget per run (one thread each)")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--every", type=int, default=40, help="steps between kept (and evaluated) checkpoints")
    parser.add_argument("--games", type=int, default=200, help="greedy games per seat vs minimax")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default="benchmarks/runs/learn_tictactoe")
    parser.add_argument("--set", action="append", default=[], help="extra key=value overrides for every run")
    parser.add_argument("--out", default="benchmarks/results/learn_tictactoe.json")
    parser.add_argument("--report-only", action="store_true", help="evaluate the existing runs under --root again")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact scores against perfect play")
    args = parser.parse_args()
    root, out = Path(args.root), Path(args.out)
    names = chosen_variants(args.variants, VARIANTS, root, args.report_only)
    common = [*budget_overrides(args.minutes, args.every, args.seed), *args.set]
    if not args.report_only:
        run_variants({n: (VARIANTS[n][0], VARIANTS[n][1]) for n in names}, common, root, args.parallel)
    curves: dict[str, list[dict]] = {}
    for name in names:
        minutes = cpu_minutes(root / name)
        curves[name] = []
        start = start_model(root / name)
        models = [(0, start), *((step, path / "model") for step, path in list_checkpoints(RunDir(root / name)))]
        for step, model_dir in models:  # step 0: the model the run started from
            scores = evaluate_checkpoint(model_dir, args.games, exact=not args.no_exact)
            row = {"step": step, "minutes": minutes.get(step, 0.0), **scores}
            curves[name].append(row)
            print(name, {k: v for k, v in row.items() if not k.endswith("_ci")}, flush=True)
    columns = [
        ("minutes", "min", ".1f"),
        ("step", "step", "d"),
        ("non_loss_seat0", "non-loss as X", ".3f"),
        ("non_loss_seat1", "non-loss as O", ".3f"),
        ("win_vs_random", "win vs random", ".2f"),
        ("invalid", "invalid", ".3f"),
    ]
    if not args.no_exact:  # the sampled policy, exactly: non-loss per seat and the tactic rates
        columns += [
            ("exact_non_loss_seat0", "exact X", ".3f"),
            ("exact_non_loss_seat1", "exact O", ".3f"),
            ("exact_take_win", "take win", ".3f"),
            ("exact_block", "block", ".3f"),
            ("exact_optimal", "optimal", ".3f"),
        ]
    for name, rows in curves.items():
        print(f"\n{name}: {VARIANTS[name][2]} -- greedy, {args.games} games per seat vs minimax")
        print(table(rows, columns))
    series = {}
    for name, rows in curves.items():
        for seat, mark in (("0", "X"), ("1", "O")):
            series[f"{name} as {mark}"] = [(r["minutes"], r[f"non_loss_seat{seat}"]) for r in rows]
    chart = out.with_suffix(".svg")
    chart.parent.mkdir(parents=True, exist_ok=True)
    chart.write_text(line_chart(series, "tic-tac-toe: greedy non-loss rate vs minimax", "CPU minutes", "non-loss rate"))
    write_json(
        out,
        {
            "benchmark": "learn_tictactoe",
            "machine": machine(),
            "minutes": args.minutes,
            "overrides": common,
            "games_per_seat": args.games,
            "variants": {n: {"recipe": VARIANTS[n][0], "overrides": VARIANTS[n][1], "what": VARIANTS[n][2]} for n in names},
            "curves": curves,
            "final": {name: rows[-1] for name, rows in curves.items() if rows},
        },
    )


if __name__ == "__main__":
    main()
