"""What the bundled model can learn of tic-tac-toe per CPU minute when it is *told* perfect play.

Not self-play: an upper bound for it. The model is fine-tuned by cross-entropy toward perfect play --
``minimax``'s best moves, uniform over ties -- at all 4,520 positions (batches of ``--batch`` positions
drawn at random, lr ``--lr``), for ``--minutes`` CPU minutes of one thread, the same budget a learning
benchmark's self-play run gets. Every ``--every`` CPU minutes (and at the start) the model is scored exactly
against perfect play (``sparring.evaluate.solved``: non-loss per seat for the sampled and the greedy policy,
and the tactic rates), the scoring not counted in the budget. A self-play run, which must find the good
moves itself from noisy game results, cannot be expected to learn faster than this.

    .venv/bin/python benchmarks/tictactoe_ceiling.py --minutes 15 --lr 5e-4
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import torch
from common import machine, table, write_json

from sparring.device import autocast_dtype
from sparring.engines.paths import BUNDLED
from sparring.evaluate.solved import solved_scores
from sparring.games import State, make_game
from sparring.players.lm import LMPlayer
from sparring.players.minimax import MinimaxPlayer
from sparring.pretrain import encode_samples, information_states, train_step


def score(model, tokenizer, game) -> dict:
    """Exact scores of the model as it is now."""
    from sparring.engines.hf import HFEngine

    return solved_scores(game, LMPlayer(HFEngine(model, tokenizer), game))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(BUNDLED), help="start model directory (default: the bundled one)")
    parser.add_argument("--minutes", type=float, default=15.0, help="CPU minutes of training (one thread)")
    parser.add_argument("--every", type=float, default=3.0, help="CPU minutes between exact scorings")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch", type=int, default=64, help="positions per step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/tictactoe_ceiling.json")
    args = parser.parse_args()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    game = make_game("tic_tac_toe")
    perfect = MinimaxPlayer()

    def minimax_prior(state: State) -> dict[str, float]:
        best = perfect.best_moves(state)
        return {m: (1.0 / len(best) if m in best else 0.0) for m in state.legal_actions()}

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    encoded = encode_samples(tokenizer, information_states("tic_tac_toe", prior=minimax_prior))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.95))
    dtype = autocast_dtype("cpu")
    rng = random.Random(args.seed)
    rows = [{"minutes": 0.0, "step": 0, "loss": float("nan"), **score(model, tokenizer, game)}]
    print(rows[-1], flush=True)
    spent, step, losses, next_score = 0.0, 0, [], args.every
    model.train()
    while spent < args.minutes * 60:
        started = time.process_time()
        losses.append(train_step(model, optimizer, rng.sample(encoded, args.batch), 0.0, tokenizer.pad_token_id, dtype))
        spent += time.process_time() - started
        step += 1
        if spent >= next_score * 60 or spent >= args.minutes * 60:
            next_score += args.every
            model.eval()
            recent = losses[-50:]
            rows.append({"minutes": spent / 60, "step": step, "loss": sum(recent) / len(recent), **score(model, tokenizer, game)})
            model.train()
            print(rows[-1], flush=True)
    columns = [
        ("minutes", "CPU min", ".1f"),
        ("step", "step", "d"),
        ("loss", "loss", ".3f"),
        ("non_loss_seat0", "non-loss X", ".3f"),
        ("non_loss_seat1", "non-loss O", ".3f"),
        ("greedy_non_loss_seat0", "greedy X", ".3f"),
        ("greedy_non_loss_seat1", "greedy O", ".3f"),
        ("take_win", "take win", ".3f"),
        ("block", "block", ".3f"),
        ("optimal", "optimal", ".3f"),
    ]
    print(f"\nimitating perfect play at all {rows[0]['positions']} positions, lr {args.lr}, batch {args.batch}")
    print(table(rows, columns))
    write_json(
        Path(args.out),
        {"benchmark": "tictactoe_ceiling", "machine": machine(), "args": vars(args), "curve": rows, "final": rows[-1]},
    )


if __name__ == "__main__":
    main()
