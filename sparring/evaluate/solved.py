"""Exact scores against perfect play in a small solved game (tic-tac-toe), from a player's policy view.

A sampled match against ``minimax`` needs hundreds of games for an interval of +-0.05, and greedy play of a
model against it is close to one line of play. Here the player's move probabilities are read once at every
position (4,520 in tic-tac-toe), and the game tree is walked against a perfect opponent that picks uniformly
among its best moves (``minimax``'s own tie-break), so each figure is an exact expectation:

- ``non_loss``: the probability of not losing against perfect play, per seat, for the sampled policy and for
  its greedy (most probable legal move) version;
- ``take_win``: mean probability, over the positions with a win in one on the board, of taking one;
- ``block``: over the positions with no win in one where some moves leave the opponent a win in one and
  others do not, the mean probability of a move that does not;
- ``optimal``: over all positions, the mean probability of a move that keeps the position's minimax value.

The probabilities are over legal moves only (renormalised, as the exploitability view does), so invalid
answers are not counted here; the sampled arena counts them. The last three say *what* a run learns
(tactics) where the first stays at zero for a long time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sparring.errors import UserError
from sparring.games.base import Game, State
from sparring.games.openspiel import OpenSpielGame
from sparring.games.priors import safe_moves, wins_now
from sparring.players.base import Player, legal_share, policy_batch
from sparring.players.minimax import MinimaxPlayer

Policy = Callable[[State], dict[str, float]]


def positions(game: Game) -> list[State]:
    """Every position with a move to make, once each (the pretrain distill phase's walk, ``decision_states``)."""
    from sparring.pretrain import decision_states

    return [game.wrap(pstate) for pstate in decision_states(game.pyspiel_game, perfect_information=True)]


def key_of(state: State) -> str:
    return f"{state.render()}|{state.current_player}"


def read_policy(game: Game, player: Player, states: list[State], batch_size: int = 256) -> dict[str, dict[str, float]]:
    """``player``'s move probabilities at each of ``states``, keyed by position."""
    if not hasattr(player, "action_probabilities"):
        raise UserError(f"player {player.name!r} has no policy view; use uniform or a model")
    table: dict[str, dict[str, float]] = {}
    for start in range(0, len(states), batch_size):
        chunk = states[start : start + batch_size]
        for state, probs in zip(chunk, policy_batch(player, chunk, [s.current_player for s in chunk]), strict=True):
            table[key_of(state)] = legal_share(probs, state.legal_actions() or [])
    return table


def non_loss(game: Game, policy: Policy, seat: int, perfect: MinimaxPlayer | None = None) -> float:
    """Exact probability that ``policy`` in ``seat`` does not lose to perfect play (uniform over its best moves)."""
    perfect = perfect or MinimaxPlayer()
    memo: dict[str, float] = {}

    def value(state: State) -> float:
        if state.is_terminal():
            return 1.0 if state.returns()[seat] >= 0 else 0.0
        key = key_of(state)
        if key not in memo:
            if state.current_player == seat:
                dist = policy(state)
            else:
                moves = perfect.best_moves(state)
                dist = dict.fromkeys(moves, 1.0 / len(moves))
            total = 0.0
            for move, p in dist.items():
                if p > 0:
                    child = state.clone()
                    child.apply(move)
                    total += p * value(child)
            memo[key] = total
        return memo[key]

    return value(game.new_state(0))


def tactics(states: list[State], table: dict[str, dict[str, float]], perfect: MinimaxPlayer) -> dict[str, float]:
    """Mean probability of taking a win in one, of not leaving one, and of a value-keeping move (see module)."""
    take_win, block, optimal = [], [], []
    for state in states:
        probs = table[key_of(state)]
        moves = list(probs)
        optimal.append(sum(probs[m] for m in perfect.best_moves(state)))
        winning = [m for m in moves if wins_now(state, m)]
        if winning:
            take_win.append(sum(probs[m] for m in winning))
            continue
        safe = safe_moves(state, moves)
        if 0 < len(safe) < len(moves):
            block.append(sum(probs[m] for m in safe))
    mean = lambda values: sum(values) / len(values) if values else float("nan")  # noqa: E731
    return {"take_win": mean(take_win), "block": mean(block), "optimal": mean(optimal)}


def solved_scores(game: Game, player: Player) -> dict[str, Any]:
    """Every figure of this module for one player: non-loss per seat (sampled and greedy) and the tactics."""
    from sparring.games.registry import game_entry

    entry = game_entry(game.name)
    if game.num_players != 2 or not entry.perfect_information:
        raise UserError(f"exact scores against perfect play need a two-player perfect-information game, not {game.name}")
    if not entry.enumerable or not isinstance(game, OpenSpielGame):
        raise UserError(f"{game.name} is too big to walk every position; exact scores are for tic_tac_toe")
    states = positions(game)
    table = read_policy(game, player, states)
    perfect = MinimaxPlayer()

    def sampled(state: State) -> dict[str, float]:
        return table[key_of(state)]

    def greedy(state: State) -> dict[str, float]:
        probs = table[key_of(state)]
        return {max(probs, key=probs.__getitem__): 1.0}

    out: dict[str, Any] = {"positions": len(states)}
    for seat in range(2):
        out[f"non_loss_seat{seat}"] = non_loss(game, sampled, seat, perfect)
        out[f"greedy_non_loss_seat{seat}"] = non_loss(game, greedy, seat, perfect)
    out.update(tactics(states, table, perfect))
    return out
