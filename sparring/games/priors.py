"""Weak, state-dependent priors: how a base model plays before self-play.

A real pretrained LM brings rough game sense to SPIRAL: it bets more with
better cards and often takes a win in one. The bundled tiny model has no such
past, so ``sparring pretrain`` gives it one: every corpus answer is drawn from
the game's prior (``GameEntry.prior``), and the soft pre-training targets are
the prior's probabilities. A prior must stay clearly weak -- self-play has to
have something left to add -- and depend on the state, or the model learns to
ignore what it reads (a uniform prior taught the first bundled model to bet
with J, Q and K alike). Each game states its prior in its docstring.

A prior maps a state to probabilities over the moves that ``moves_for`` lists
(the legal moves, or a free-text game's examples); they sum to 1.
"""

from __future__ import annotations

from collections.abc import Callable

from sparring.errors import UserError
from sparring.games.base import State

Prior = Callable[[State], dict[str, float]]


def normalized(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("a prior needs a positive weight on some move")
    return {m: w / total for m, w in weights.items()}


def moves_for(state: State) -> list[str]:
    """Legal moves, or well-formed examples on a free-text turn: what a prior (or a random player) picks from."""
    legal = state.legal_actions()
    if legal is not None:
        return legal
    examples = getattr(state, "example_actions", None)
    if examples is None:
        raise UserError("this game has free-text turns and no example_actions; a random player cannot act in it")
    return examples()


def uniform(state: State) -> dict[str, float]:
    """Every listed move equally likely: the prior of a game that states none (the random player's policy)."""
    moves = moves_for(state)
    return dict.fromkeys(moves, 1.0 / len(moves))


def mix(focus: list[str], moves: list[str], share: float) -> dict[str, float]:
    """``share`` spread over ``focus``, the rest over all ``moves`` (focus moves get both)."""
    out = dict.fromkeys(moves, (1.0 - share) / len(moves))
    for m in focus:
        out[m] += share / len(focus)
    return out


def wins_now(state: State, move: str) -> bool:
    child = state.clone()
    mover = state.current_player
    child.apply(move)
    return child.is_terminal() and child.returns()[mover] > 0


def threatens(state: State) -> bool:
    """The player to move in ``state`` has a move that wins at once."""
    return not state.is_terminal() and any(wins_now(state, m) for m in state.legal_actions())


def safe_moves(state: State, moves: list[str]) -> list[str]:
    """The ``moves`` that leave the opponent no win in one."""
    safe = []
    for m in moves:
        child = state.clone()
        child.apply(m)
        if not threatens(child):
            safe.append(m)
    return safe


def tactical(win: float = 0.5, block: float = 0.5) -> Prior:
    """One-move lookahead for win/lose board games, else uniform.

    With a winning move on the board, ``win`` of the mass goes to winning moves.
    Otherwise, when some moves leave the opponent a win in one and others do
    not, ``block`` of the mass goes to the safe ones. The rest is uniform over
    the legal moves, so blunders stay common: this prior sees one move ahead
    and never plans a fork or defends against one.
    """

    def prior(state: State) -> dict[str, float]:
        moves = state.legal_actions()
        winning = [m for m in moves if wins_now(state, m)]
        if winning:
            return mix(winning, moves, win)
        safe = safe_moves(state, moves)
        if 0 < len(safe) < len(moves):
            return mix(safe, moves, block)
        return dict.fromkeys(moves, 1.0 / len(moves))

    return prior
