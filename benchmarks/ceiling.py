"""What a model can learn of a skill per CPU minute when it is *told* the answers: the bound on self-play.

Not self-play: the model is fine-tuned by cross-entropy toward known-right answers (batches of ``--batch``
turns drawn at random, lr ``--lr``) for ``--minutes`` CPU minutes of one thread, the budget a learning
benchmark's self-play run gets, and scored every ``--every`` CPU minutes (and at the start; scoring not
counted). A self-play run, which must find the right answers itself from noisy game results, cannot be
expected to learn a skill faster than this. One task per skill a learning benchmark measures:

- ``tictactoe``: ``minimax``'s best moves (uniform over ties) at all 4,520 positions; scored exactly
  against perfect play (``sparring.evaluate.solved``: non-loss per seat, sampled and greedy, tactic rates).
- ``leduc``: Leduc hold'em's 936 information states, each answered with the whole distribution of CFR+'s
  average policy (``--cfr-iters``, default 500); scored by exact exploitability of the model's policy (the
  starting CFR+ policy's own is printed). How low this model's single policy can go in Leduc when it is told
  a near-Nash strategy: the floor under the exploiter's descent toward 0.5.
- ``solver``: ``propose_solve``'s solver turn on fresh problems of ``--levels`` (default ``1``: one-digit
  sums) with their true values; scored greedy on ``arith_heldout.jsonl`` by level. Problems that are in the
  held-out file are never trained on, so a level-1 score is addition on sums not seen, not recall.
  ``--rehearse 0.5`` mixes in half as many proposer turns of the pretraining corpus, and ``--save DIR``
  keeps the model: a solver that starts out right more often, for a self-play run to start from.
- ``critic``: ``sneaky_critic``'s critic turn on fresh positions (the ``prior`` sneaky player's rewrites,
  30% untouched), answered with ``--label``: ``truth`` (the wrong step or ``none``; finding a wrong result
  needs the step's arithmetic) or ``reader`` (the first step whose left number is not the previous step's
  result: a copy-and-compare rule, no arithmetic, which scores 0.695 on the held-out file). Scored greedy on
  ``critic_heldout.jsonl`` by kind.
- ``proposer``: ``propose_solve``'s proposer turn, answered with one of the prompt's valid example tasks
  copied exactly (the move its prior favours; a copy is valid, and the seed varies the examples); scored on
  200 fixed far seeds, sampled: the share of tasks well-formed, valid, an exact copy, and distinct. Whether
  the model can learn to copy what it is shown -- what keeps a proposer that cannot add both valid and varied.

    .venv/bin/python benchmarks/ceiling.py --task critic --label reader --minutes 12 --lr 1e-3
    .venv/bin/python benchmarks/ceiling.py --task tictactoe --minutes 15 --lr 5e-4 --model DIR
"""

from __future__ import annotations

import argparse
import ast
import json
import random
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import torch
from common import machine, table, write_json

from sparring.engines.hf import HFEngine
from sparring.engines.paths import BUNDLED
from sparring.evaluate.exploitability import exploitability
from sparring.evaluate.heldout import ARITH, CRITIC, arith_problem, critic_position, score_heldout
from sparring.evaluate.solved import solved_scores
from sparring.fit_average import fit_to_samples
from sparring.games import State, make_game
from sparring.games.base import InvalidAction
from sparring.games.propose_solve import evaluate
from sparring.games.sneaky_critic import first_break
from sparring.players import make_player
from sparring.players.lm import LMPlayer
from sparring.players.minimax import MinimaxPlayer
from sparring.pretrain import PretrainConfig, Sample, game_turns, information_states
from sparring.prompts import PromptConfig, format_answer, render_messages

TRAIN_SAMPLES = 6000
"""Fresh turns drawn for the solver, critic and proposer tasks (tic-tac-toe has its 4,520 positions)."""
SEED_FAR = 3_000_000
"""The proposer is scored at game seeds from here on; training draws its seeds at random below 2**30."""


def tictactoe_task(args: argparse.Namespace) -> tuple[list[Sample], Callable[[Any, Any], dict]]:
    game, perfect = make_game("tic_tac_toe"), MinimaxPlayer()

    def minimax_prior(state: State) -> dict[str, float]:
        best = perfect.best_moves(state)
        return {m: (1.0 / len(best) if m in best else 0.0) for m in state.legal_actions()}

    samples = information_states("tic_tac_toe", prior=minimax_prior)
    return samples, lambda model, tokenizer: solved_scores(game, LMPlayer(HFEngine(model, tokenizer), game))


def leduc_task(args: argparse.Namespace) -> tuple[list[Sample], Callable[[Any, Any], dict]]:
    game = make_game("leduc_poker")
    cfr = make_player(f"cfr:iters={args.cfr_iters}", game)
    print(f"CFR+ ({args.cfr_iters} iterations) exploitability {exploitability(game, cfr).exploitability:.4f}", flush=True)
    samples = information_states("leduc_poker", prior=lambda state: cfr.action_probabilities(state, state.current_player))

    def score(model: Any, tokenizer: Any) -> dict:
        return {"exploitability": exploitability(game, LMPlayer(HFEngine(model, tokenizer), game)).exploitability}

    return samples, score


def solver_task(args: argparse.Namespace) -> tuple[list[Sample], Callable[[Any, Any], dict]]:
    game, prompt, rng = make_game("propose_solve"), PromptConfig(), random.Random(args.seed)
    levels = [int(x) for x in args.levels.split(",")]
    held = {json.loads(line)["question"] for line in ARITH.read_text().splitlines() if line.strip()}
    samples = []
    while len(samples) < TRAIN_SAMPLES:
        problem = arith_problem(rng, rng.choice(levels))
        truth = evaluate(ast.parse(problem, mode="eval"))
        state = game.new_state(0)
        state.apply(f"{problem} = {truth}")
        messages = render_messages(game, state, 1, prompt)
        if messages[-1]["content"] not in held:
            samples.append(Sample(messages, format_answer(str(truth), prompt.answer_format)))
    samples += proposer_rehearsal(round(TRAIN_SAMPLES * args.rehearse), args.seed)
    return samples, lambda model, tokenizer: score_heldout(HFEngine(model, tokenizer), ARITH, "level")


def proposer_rehearsal(count: int, seed: int) -> list[Sample]:
    """``count`` proposer turns of the bundled model's pretraining corpus (its prior's tasks). Mixed into the
    solver's samples they keep the proposer's turn: trained on solver turns alone, the model answers a
    proposer's prompt with a number too (a start saved that way refused every one of its own proposals)."""
    config, rng = PretrainConfig(seed=seed, invalid_rate=0.0), random.Random(seed)
    turns = game_turns("propose_solve", 1 << 62, config, PromptConfig(), rng)  # drawn lazily, until count are found
    return list(islice((sample for state, sample in turns if state.current_player == 0), count))


def critic_task(args: argparse.Namespace) -> tuple[list[Sample], Callable[[Any, Any], dict]]:
    game, prompt, rng = make_game("sneaky_critic"), PromptConfig(), random.Random(args.seed)
    samples = []
    for k in range(TRAIN_SAMPLES):
        state, _ = critic_position(game, rng.randrange(1 << 30), k)
        label = state.truth() if args.label == "truth" else first_break(state.start, state.shown(), arithmetic=False) or "none"
        answer = format_answer(str(label), prompt.answer_format)
        samples.append(Sample(render_messages(game, state, 1, prompt), answer))
    return samples, lambda model, tokenizer: score_heldout(HFEngine(model, tokenizer), CRITIC, "kind")


def proposer_rates(model: Any, tokenizer: Any, positions: int = 200) -> dict[str, float]:
    """The proposer's sampled tasks at ``positions`` fixed far seeds: the share well-formed, valid (its stated
    answer right), an exact copy of one of its prompt's examples, and distinct."""
    game = make_game("propose_solve")
    player = LMPlayer(HFEngine(model, tokenizer), game)
    player.engine.rng.manual_seed(0)
    states = [game.new_state(SEED_FAR + k) for k in range(positions)]
    moves = player.act_batch(states, [0] * positions)
    formed = valid = copied = 0
    texts = []
    for state, move in zip(states, moves, strict=True):
        text = " ".join((move.action or "").split())
        texts.append(text)
        copied += text in {" ".join(example.split()) for example, _ in state.examples}
        try:
            task = game.judge(move.action or "")  # what the game's own move makes of it, judged once
        except InvalidAction:
            continue
        formed += 1
        valid += task.invalid is None
    n = float(positions)
    return {"well_formed": formed / n, "valid": valid / n, "copied": copied / n, "distinct": len(set(texts)) / n}


def proposer_task(args: argparse.Namespace) -> tuple[list[Sample], Callable[[Any, Any], dict]]:
    game, prompt, rng = make_game("propose_solve"), PromptConfig(), random.Random(args.seed)
    samples = []
    for _ in range(TRAIN_SAMPLES):
        state = game.new_state(rng.randrange(1 << 30))
        task = rng.choice([text for text, is_valid in state.examples if is_valid])
        samples.append(Sample(render_messages(game, state, 0, prompt), format_answer(task, prompt.answer_format)))
    return samples, proposer_rates


TASKS = {
    "tictactoe": tictactoe_task,
    "leduc": leduc_task,
    "solver": solver_task,
    "critic": critic_task,
    "proposer": proposer_task,
}
COLUMNS = {
    "tictactoe": [
        ("non_loss_seat0", "non-loss X", ".3f"),
        ("non_loss_seat1", "non-loss O", ".3f"),
        ("greedy_non_loss_seat0", "greedy X", ".3f"),
        ("greedy_non_loss_seat1", "greedy O", ".3f"),
        ("take_win", "take win", ".3f"),
        ("block", "block", ".3f"),
        ("optimal", "optimal", ".3f"),
    ],
    "leduc": [("exploitability", "exploitability", ".3f")],
    "solver": [("accuracy", "held-out", ".3f"), ("level 1", "level 1", ".3f"), ("level 2", "level 2", ".3f")]
    + [("level 3", "level 3", ".3f")],
    "critic": [("accuracy", "held-out", ".3f"), ("kind chain", "chain", ".3f"), ("kind result", "result", ".3f")]
    + [("kind clean", "clean", ".3f")],
    "proposer": [("well_formed", "well-formed", ".3f"), ("valid", "valid", ".3f"), ("copied", "exact copy", ".3f")]
    + [("distinct", "distinct", ".3f")],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="tictactoe", help="the skill (see above)")
    parser.add_argument("--model", default=str(BUNDLED), help="start model directory (default: the bundled one)")
    parser.add_argument("--minutes", type=float, default=15.0, help="CPU minutes of training (one thread)")
    parser.add_argument("--every", type=float, default=3.0, help="CPU minutes between scorings")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch", type=int, default=64, help="turns per step")
    parser.add_argument("--levels", default="1", help="solver: the problem levels trained on, e.g. 1,2")
    parser.add_argument("--cfr-iters", type=int, default=500, help="leduc: CFR+ iterations of the policy taught")
    parser.add_argument("--label", choices=["truth", "reader"], default="truth", help="critic: the answers taught")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON results (default benchmarks/results/ceiling_<task>.json)")
    parser.add_argument(
        "--rehearse", type=float, default=0.0, help="solver: proposer turns of the pretraining corpus mixed in, as a share"
    )
    parser.add_argument("--save", default=None, help="write the trained model here (a start for a self-play run)")
    args = parser.parse_args()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    samples, score = TASKS[args.task](args)

    def show(row: dict[str, Any]) -> None:
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}, flush=True)

    rows = fit_to_samples(model, tokenizer, samples, score, args.minutes, args.every, args.lr, args.batch, args.seed, show)
    columns = [("minutes", "CPU min", ".1f"), ("step", "step", "d"), ("loss", "loss", ".3f"), *COLUMNS[args.task]]
    print(f"\n{args.task}: told the answers, lr {args.lr}, batch {args.batch}, from {args.model}")
    print(table(rows, columns))
    out = Path(args.out or f"benchmarks/results/ceiling_{args.task}.json")
    write_json(out, {"benchmark": "ceiling", "task": args.task, "machine": machine(), "args": vars(args), "curve": rows})
    if args.save:
        model.save_pretrained(args.save)
        tokenizer.save_pretrained(args.save)
        print(f"wrote the trained model to {args.save}")


if __name__ == "__main__":
    main()
