"""Replays: finished games as JSON lines, every turn with what was seen, said, and learned.

One line per game: the game, seed, seating and returns, and per turn the
seat, the observation, the generated text, the token ids with their
log-probs, the parsed action or the invalid reason, and -- for turns that were
trained on -- the reward and the advantage given to them. Training writes
them under ``run/replays/``; ``sparring replay FILE`` prints one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sparring.games.registry import role_names
from sparring.rollout import GameRecord
from sparring.samples import TurnSample


def replay_record(
    record: GameRecord,
    seat_names: list[str],
    samples: list[TurnSample] | None = None,
    tokenizer: Any = None,
    step: int | None = None,
    source: str = "train",
    game_id: int | None = None,
) -> dict[str, Any]:
    """A JSON-ready dict of one game; ``seat_names[s]`` names who sat in seat s.

    ``samples`` (matched by ``game_id``) attach the reward and advantage each trained turn got.
    """
    trained = {(s.seat, s.turn): s for s in (samples or []) if game_id is not None and s.game_id == game_id}
    roles = role_names(record.game)
    per_seat: dict[int, int] = {}
    turns = []
    for t in record.turns:
        k = per_seat.get(t.seat, 0)
        per_seat[t.seat] = k + 1
        sample = trained.get((t.seat, k))
        turn: dict[str, Any] = {
            "seat": t.seat,
            "player": seat_names[t.seat],
            "role": roles[t.seat] if roles else None,
            "observation": t.observation,
            "text": t.text,
            "action": t.action,
            "invalid": t.invalid,
        }
        if "response_ids" in t.info:
            ids = t.info["response_ids"]
            turn["token_ids"] = ids
            turn["logprobs"] = [round(x, 4) for x in t.info["logprobs"]]
            if tokenizer is not None:
                turn["tokens"] = [tokenizer.decode([i]) for i in ids]
            turn["finish_reason"] = t.info.get("finish_reason")
        if sample is not None:
            turn["reward"] = sample.reward
            turn["advantage"] = sample.advantage
        turns.append(turn)
    return {
        "source": source,
        "step": step,
        "game": record.game,
        "seed": record.seed,
        "seating": record.seating,
        "players": seat_names,
        "roles": roles,
        "returns": record.returns,
        "invalid_seat": record.invalid_seat,
        "invalid_reason": record.invalid_reason,
        "truncated": record.truncated,
        "turns": turns,
    }


def write_replays(path: Path, games: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        for g in games:
            f.write(json.dumps(g) + "\n")


def read_replays(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a replay file (a line cut by a crash is skipped)."""
    games = []
    for line in path.read_text().splitlines():
        try:
            games.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return games
