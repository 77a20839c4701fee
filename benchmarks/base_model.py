"""The base model's starting figures: what self-play starts from, and that it is weak but reads the game.

For a model directory (the bundled one by default): legal-move rate per game
(sampled at temperature 1 over random positions; per role in the role games), exact Kuhn and Leduc
exploitability with the per-card Kuhn policy, and tic-tac-toe against perfect
``minimax`` per seat, greedy and sampled, with 95% Wilson intervals. The
issue's bounds for a base model: Kuhn exploitability >= 0.2, tic-tac-toe
non-loss vs minimax <= 0.3 in both seats, legal moves >= 98% in every game.

    .venv/bin/python benchmarks/base_model.py [--model DIR] [--games 200]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import machine, table, write_json

from sparring.evaluate.exploitability import exploitability_of_table, kuhn_policy, policy_table
from sparring.evaluate.suite import evaluate_game
from sparring.games import make_game
from sparring.players import make_player
from sparring.pretrain import BUNDLED_DIR, PretrainConfig, legal_move_rate, legal_move_rate_by_role

ROLE_GAMES = ("propose_solve", "sneaky_critic", "qrv", "red_team", "spy")
"""Issue 13's games, whose well-formed rate is given per role: a free-text turn (the proposer's task, the
sneaky rewrite) and a listed one (the critic's pick) differ by an order of magnitude."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(BUNDLED_DIR))
    parser.add_argument("--games", type=int, default=200, help="tic-tac-toe games per seat vs minimax")
    parser.add_argument("--out", default="benchmarks/results/base_model.json")
    args = parser.parse_args()
    model = Path(args.model)
    legal = {name: legal_move_rate(model, name) for name in PretrainConfig().mix}
    rows = [{"game": g, "legal": r} for g, r in legal.items()]
    print(table(rows, [("game", "game", "s"), ("legal", "legal-move rate", ".3f")]))
    roles = {name: legal_move_rate_by_role(model, name) for name in ROLE_GAMES}
    rows = [{"game": g, "role": role, "rate": r} for g, by in roles.items() for role, r in by.items()]
    print(table(rows, [("game", "game", "s"), ("role", "role", "s"), ("rate", "well-formed rate", ".3f")]))
    exact = {}
    for name in ("kuhn_poker", "leduc_poker"):
        game = make_game(name)
        tab = policy_table(game, make_player(f"model:{model}", game))
        exact[name] = {"exploitability": exploitability_of_table(game, tab).exploitability}
        if name == "kuhn_poker":
            exact[name]["policy_JQK"] = kuhn_policy(tab)
        print(name, exact[name])
    ttt = {}
    game = make_game("tic_tac_toe")
    for label, temperature in (("greedy", 0), ("sampled", 1)):
        player = make_player(f"model:path={model},temperature={temperature},max_new_tokens=16", game)
        stats = evaluate_game(game, "tic_tac_toe", player, ["minimax"], 2 * args.games, with_exploitability=False).vs["minimax"]
        ttt[label] = {
            f"seat{seat}": {"non_loss": 1 - s["loss"], "ci": [1 - s["intervals"]["loss"][1], 1 - s["intervals"]["loss"][0]]}
            for seat, s in stats["by_seat"].items()
        }
        ttt[label]["invalid"] = stats["invalid"]
        print(f"tic-tac-toe vs minimax, {label}:", ttt[label])
    write_json(
        Path(args.out),
        {
            "model": str(model),
            "machine": machine(),
            "legal_move_rate": legal,
            "role_games_by_role": roles,
            "exact": exact,
            "tic_tac_toe_vs_minimax": ttt,
        },
    )


if __name__ == "__main__":
    main()
