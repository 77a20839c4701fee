"""The format phase of ``sparring pretrain``: reinforce moves the game accepts, and nothing else.

Distilling a free-text turn (the proposer's task, the sneaky rewrite, the
questioner's question) teaches the tiny model the *shape* of the answer, not
how to finish it: after 600 distill steps it still wrote ``7 * 4 = 2 = 11``
four times in ten. In self-play the loop's forfeit for a refused move fixes
that in about ten steps (measured on ``sneaky_critic``: refused games 40% ->
4%), but self-play also moves everything else (the critic fell to always
``none`` within 20 steps), and a base model must stay the weak prior.

This phase keeps only the first half of that: on turns drawn from prior play
(one seat's, with ``game@seat``), the model samples its own answers and a
REINFORCE step raises the log-probability of the answers the game accepts
(reward 1) against those it refuses (reward 0), with the batch mean as the
baseline. In expectation that is the gradient of the accepted share alone;
on a listed turn (a spy's item, a tic-tac-toe square) it pushes toward the
legal moves without preferring any, though the noise of a few steps can
still change which one is greedy (30 steps on tic-tac-toe did). Whether the
task is *good* (a right stated answer, an error the critic will miss) is not
rewarded: that is self-play's to teach. SPIRAL's and
DeepSeek-R1's format rewards do the same inside the RL loop; here it runs once,
before any game is played. Corpus batches after each step (``distill_replay``)
hold the other games, as in the distill phase.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import torch

from sparring.device import autocast
from sparring.games import make_game
from sparring.games.base import State, accepts
from sparring.prefix import response_log_softmax


def format_step(model: Any, tokenizer: Any, optimizer: Any, player: Any, states: list[State], dtype: Any) -> float:
    """One REINFORCE step on the model's sampled answers at ``states``; returns the share accepted."""
    model.eval()  # sampling: no dropout
    moves = player.act_batch(states, [s.current_player for s in states])
    model.train()
    rewards = torch.tensor([float(accepts(s, m.action)) for s, m in zip(states, moves, strict=True)])
    advantages = rewards - rewards.mean()
    keep = [k for k, a in enumerate(advantages.tolist()) if a != 0.0]
    if keep:  # empty when all were accepted or all refused: no signal
        prompts = [moves[k].info["prompt_ids"] for k in keep]
        responses = [list(moves[k].info["response_ids"]) for k in keep]
        with autocast("cpu", dtype):
            rows = response_log_softmax(model, prompts, responses, tokenizer.pad_token_id, torch.device("cpu"))
        picked = rows.gather(-1, torch.tensor([t for r in responses for t in r]).unsqueeze(-1)).squeeze(-1)
        per_answer = torch.stack([p.sum() for p in picked.split([len(r) for r in responses])])
        loss = -(advantages[keep] * per_answer).sum() / len(states)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return float(rewards.mean())


def format_phase(
    model: Any,
    tokenizer: Any,
    optimizer: Any,
    pools: dict[str, list[State]],
    steps: dict[str, int],
    batch_size: int,
    seed: int,
    dtype: Any,
    progress: bool,
    after_step: Callable[[], int],
) -> dict[str, Any]:
    """The format phase: games (``pools``' keys, ``game`` or ``game@seat``) take turns, one format step each on
    ``batch_size`` of their turns, then ``after_step()`` (the corpus replay; it returns how many batches it ran).
    Returns the accepted share of each game's first and last ten steps (the model's own samples)."""
    from sparring.engines.hf import HFEngine
    from sparring.players.lm import LMPlayer

    rng = random.Random(f"{seed}:format")
    engine = HFEngine(model, tokenizer=tokenizer)
    engine.rng.manual_seed(seed)
    players = {key: LMPlayer(engine, make_game(key.partition("@")[0])) for key in pools}
    done = dict.fromkeys(pools, 0)
    shares: dict[str, list[float]] = {key: [] for key in pools}
    replayed, started = 0, time.perf_counter()
    while any(done[k] < steps[k] for k in pools):
        for key, pool in pools.items():
            if done[key] >= steps[key]:
                continue
            states = rng.sample(pool, min(batch_size, len(pool)))
            shares[key].append(format_step(model, tokenizer, optimizer, players[key], states, dtype))
            done[key] += 1
            replayed += after_step()
            if progress and done[key] % 10 == 0:
                share = sum(shares[key][-10:]) / len(shares[key][-10:])
                print(f"format {key} step {done[key]}/{steps[key]} accepted {share:.2f}", flush=True)
    summary = {
        key: {"first_10": sum(v[:10]) / max(1, len(v[:10])), "last_10": sum(v[-10:]) / max(1, len(v[-10:]))}
        for key, v in shares.items()
    }
    return {"steps": done, "accepted": summary, "replayed_batches": replayed, "seconds": time.perf_counter() - started}
