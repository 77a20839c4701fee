"""The game protocol every game in sparring speaks.

A game hands out seeded states; a state says whose turn it is, what each
player sees (as text a language model can read), which moves are legal (as the
exact strings to answer with, or ``None`` for a free-text turn), applies a
move or refuses it with a reason, and scores the end. Chance (card deals,
dice) is drawn from the state's own seeded RNG, so one seed replays a game
exactly. Nothing here is a base class to inherit from: games are plain
classes that happen to have these methods.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

TERMINAL = -1
"""``current_player`` of a finished game."""


class InvalidAction(Exception):
    """A move the game refuses; ``reason`` says why, in words a player can act on.

    The state is left exactly as it was before the refused move.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@runtime_checkable
class State(Protocol):
    """One position of one game."""

    @property
    def current_player(self) -> int:
        """The seat to move, or ``TERMINAL`` (-1) once the game is over."""
        ...

    def observation(self, player: int) -> str:
        """What ``player`` sees, as text: board, private cards, history, and
        (on their turn) the legal moves with the exact strings to answer with."""
        ...

    def legal_actions(self, player: int | None = None) -> list[str] | None:
        """The exact answer strings allowed now, or ``None`` for free text."""
        ...

    def apply(self, action: str) -> None:
        """Play ``action`` for the current player; raise :class:`InvalidAction` if refused."""
        ...

    def is_terminal(self) -> bool: ...

    def returns(self) -> list[float]:
        """Each seat's payoff; meaningful once terminal (zeros before)."""
        ...

    def clone(self) -> State:
        """An independent copy, RNG included: playing on it never touches this one."""
        ...

    def render(self) -> str:
        """The full position for a human (or a log), all private information shown."""
        ...


@runtime_checkable
class ScoredTurns(Protocol):
    """A finished state that scores some seat's turns one by one (a solver's independent attempts).

    ``turn_rewards(seat)`` is one reward per turn of that seat, in order, or None where the seat's turns share
    its game return. ``rollout.turn_credit: own`` gives each such turn its own reward instead of the return;
    the rewards' mean should be the seat's return, so a role baseline learns the same figure either way.
    """

    def turn_rewards(self, seat: int) -> list[float] | None: ...


@runtime_checkable
class ReportsStats(Protocol):
    """A finished state with figures of its own to log, averaged per game as ``train/<game>/<key>``
    (qrv: how often a model verifier agrees with the exact rule). An empty dict logs nothing."""

    def stats(self) -> dict[str, float]: ...


@runtime_checkable
class FreeTextState(State, Protocol):
    """A state whose turns are free text (``legal_actions`` is ``None``).

    ``example_actions`` lists a finite set of well-formed moves for the current
    player, so a random player (and the synthetic pre-training corpus) can act.
    """

    def example_actions(self) -> list[str]: ...


@runtime_checkable
class Game(Protocol):
    name: str
    num_players: int

    def new_state(self, seed: int) -> State:
        """A fresh game whose chance events are all drawn from ``seed``."""
        ...

    def describe(self) -> str:
        """The rules, as text to put in front of a player."""
        ...


def match_action(action: str, legal: list[str]) -> str | None:
    """The legal move ``action`` names, ignoring case and surrounding space."""
    want = action.strip().lower()
    for move in legal:
        if move.lower() == want:
            return move
    return None


def refuse_unlisted(action: str, legal: list[str]) -> str:
    """Return the legal move ``action`` names or raise :class:`InvalidAction` listing them."""
    move = match_action(action, legal)
    if move is None:
        shown = action.strip()
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise InvalidAction(f"{shown!r} is not a legal move; legal moves: {', '.join(legal)}")
    return move


def accepts(state: State, action: str | None) -> bool:
    """Whether ``state`` takes ``action`` (tried on a copy): the legal-move rates and the format phase's reward."""
    if action is None:
        return False
    try:
        state.clone().apply(action)
    except InvalidAction:
        return False
    return True


def example_block(heading: str, examples: list[str]) -> str:
    """Example moves shown in an authoring turn's prompt, one per line, each in double quotes.

    A few-shot block, the way Absolute Zero shows its proposer reference tasks:
    a small model copies and edits what it can read far better than it invents
    a form from nothing. The quotes matter to a small tokenizer: after a space,
    ``15`` or ``step`` becomes a different token (`` 15``) from the one that
    follows ``\\boxed{``, and after a quote it is the same, so copying an example
    into the answer is copying tokens. The examples are not all valid (each
    game mixes one bad one in), so which one to write, or whether to write
    one's own, is still the player's to learn.
    """
    return f"{heading}, not all of them valid:\n" + "\n".join(f'- "{e}"' for e in examples)


PLACEMENT_SCORES = {"win": 1.0, "draw": 0.5, "loss": 0.0}
"""What a ``placement`` is worth to a pool entry's running score."""


def placement(returns: list[float], seat: int) -> str:
    """``win``, ``draw`` or ``loss`` for ``seat``, from every seat's return, for any number of seats.

    ``win``: no seat scored more and some seat scored less; ``loss``: no seat
    scored less and some seat scored more; otherwise (all equal, or strictly
    between the best and the worst) ``draw``. With two seats this is the
    plain comparison; in 3-seat liar's dice (-1 for the loser, +1/2 for the
    others) both survivors win and the loser loses.
    """
    mine, best, worst = returns[seat], max(returns), min(returns)
    if best == worst:
        return "draw"
    return "win" if mine == best else "loss" if mine == worst else "draw"


def pairwise_scores(returns: list[float]) -> list[tuple[int, int, float]]:
    """Every pair of seats ``(s, t)``, s < t, with the score of s against t: 1, 0.5 or 0 by their returns.

    How a game of three or more seats counts for pairwise ratings (Elo): as one
    result between every two seats, ranked by return.
    """
    n = len(returns)
    return [
        (s, t, 1.0 if returns[s] > returns[t] else 0.0 if returns[s] < returns[t] else 0.5)
        for s in range(n)
        for t in range(s + 1, n)
    ]
