"""The player protocol: given a state and a seat, pick a move.

A player returns the move as a string, or a :class:`Move` when it has more
to say (a language model's full text, or why it produced no usable move).
Players that can decide for many games at once (language models) also offer
``act_batch``; players with a probability for every legal move (uniform, CFR,
a language model scored move by move) offer ``action_probabilities``, which is
what exact exploitability needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from sparring.games.base import State


@dataclass
class Move:
    """A player's answer for one turn."""

    action: str | None
    """The move to play, or None if the player produced nothing usable."""
    reason: str | None = None
    """Why ``action`` is None (e.g. ``no \\boxed{} answer found``)."""
    text: str = ""
    """Everything the player said (for replays); equals ``action`` for bots."""
    info: dict[str, Any] = field(default_factory=dict)
    """Extra per-turn data (token ids, log-probs) a learner or replay may use."""


@runtime_checkable
class Player(Protocol):
    name: str

    def act(self, state: State, seat: int) -> str | Move: ...


@runtime_checkable
class BatchPlayer(Player, Protocol):
    def act_batch(self, states: list[State], seats: list[int]) -> list[str | Move]: ...


@runtime_checkable
class PolicyPlayer(Player, Protocol):
    def action_probabilities(self, state: State, seat: int) -> dict[str, float]:
        """Probability of each legal move (summing to 1) at this state."""
        ...


def as_move(answer: str | Move) -> Move:
    return answer if isinstance(answer, Move) else Move(action=answer, text=answer)


def act_many(player: Player, states: list[State], seats: list[int], games: list[Any] | None = None) -> list[Move]:
    """Ask ``player`` for a move in each state, batched when the player can.

    ``games`` (one per state) lets a player that serves several games at once
    (a language model in multi-game training) read each game's rules.
    """
    if not states:
        return []
    if games is not None and hasattr(player, "act_batch_games"):
        answers = player.act_batch_games(games, states, seats)
    elif isinstance(player, BatchPlayer):
        answers = player.act_batch(states, seats)
    else:
        answers = [player.act(s, seat) for s, seat in zip(states, seats, strict=True)]
    return [as_move(a) for a in answers]


def policy_batch(player: PolicyPlayer, states: list[State], seats: list[int]) -> list[dict[str, float]]:
    """``action_probabilities`` over many states, batched when the player can."""
    batch = getattr(player, "action_probabilities_batch", None)
    if batch is not None:
        return batch(states, seats)
    return [player.action_probabilities(s, seat) for s, seat in zip(states, seats, strict=True)]


def legal_share(probs: dict[str, float], legal: list[str]) -> dict[str, float]:
    """``probs`` restricted to the ``legal`` moves and renormalised (negative mass as 0); uniform when none is
    left. How a policy view that also puts mass on unlisted answers is read as a policy over the legal moves."""
    total = sum(max(probs.get(m, 0.0), 0.0) for m in legal)
    return {m: (max(probs.get(m, 0.0), 0.0) / total if total > 0 else 1.0 / len(legal)) for m in legal}
