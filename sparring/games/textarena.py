"""TextArena two-player games as sparring games (optional extra: ``pip install 'sparring[textarena]'``).

Each game here wraps one *raw* TextArena environment (``ta.make(env_id + "-raw")``:
no observation or action wrappers), so the rules, prompts and messages are
TextArena's own. Four things are done differently from TextArena's own loop,
each because the sparring protocol needs it:

- **Observations.** TextArena queues each player's new messages and hands them
  out once. The state drains both queues after every move into its own per-seat
  history, so ``observation(player)`` is that player's whole text history (the
  game prompt first, then every ``[GAME]`` / ``[Player N]`` message they were
  shown), plus a closing line on their turn saying how to answer.
- **Own randomness.** TextArena draws chance (deals, dice, starting values) from
  the *global* ``random`` module and reseeds it in ``reset``. Each state keeps
  its own ``random`` state and swaps it in only around TextArena calls, then
  puts the caller's back: a seed replays a game exactly, interleaved games never
  disturb each other, and the caller's global RNG is left untouched.
- **Snapshots for invalid moves.** TextArena judges a move while playing it
  (mutating as it goes) and then grants a retry or ends the game
  (``error_allowance``). sparring's rollout decides penalties itself, so a move
  is played on a deep copy; if TextArena called ``set_invalid_move`` the copy is
  thrown away and :class:`InvalidAction` carries TextArena's reason, otherwise
  the copy becomes the state. ``clone`` is a deep copy too, RNG included.
- **Free text.** ``legal_actions`` is ``None``; ``example_actions`` lists a few
  well-formed moves per game so a random player can act.

``textarena`` is imported only inside functions: without it the games still
register and report themselves unavailable with the install hint.
"""

from __future__ import annotations

import copy
import functools
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sparring.games.base import TERMINAL, InvalidAction
from sparring.games.registry import GameEntry, register

INSTALL_HINT = "TextArena is not installed: pip install 'sparring[textarena]'"

RngState = tuple[Any, ...]
"""What ``random.getstate()`` returns."""
T = TypeVar("T")


def textarena_missing() -> str | None:
    """Why TextArena games cannot be built here, or ``None`` when ``import textarena`` works."""
    try:
        import textarena  # noqa: F401
    except ImportError:
        return INSTALL_HINT
    return None


def run_with_rng(rng: RngState, call: Callable[[], T]) -> tuple[T, RngState]:
    """Run ``call`` with the global ``random`` set to ``rng``; return its result and the RNG state it leaves.

    The caller's global RNG state is restored afterwards, whatever happens.
    """
    outside = random.getstate()
    random.setstate(rng)
    try:
        return call(), random.getstate()
    finally:
        random.setstate(outside)


def sender_name(state: Any, sender: int) -> str:
    """``GAME`` or the seat's TextArena role (``Player 0``, ``Commander Alpha``...)."""
    return state.role_mapping.get(sender, f"Player {sender}")


def step_judged(env: Any, action: str) -> str | None:
    """Play ``action`` on ``env`` and return TextArena's reason if it judged the move invalid.

    ``env`` must be a throwaway copy: after an invalid move TextArena has
    already half-played it, granted a retry or ended the game.
    """
    reasons: list[str] = []
    judge = env.state.set_invalid_move

    def record(reason: str, *args: Any, **kwargs: Any) -> Any:
        reasons.append(reason)
        return judge(reason, *args, **kwargs)

    env.state.set_invalid_move = record
    try:
        env.step(action)
    finally:
        del env.state.set_invalid_move
    return reasons[0] if reasons else None


@dataclass(frozen=True)
class TextArenaSpec:
    """One TextArena environment and what sparring adds to it (each callable takes the raw env)."""

    name: str
    env_id: str
    description: str
    rules: str
    your_move: Callable[[Any], str]
    """The line that ends the current player's observation: how to answer now."""
    examples: Callable[[Any], list[str]]
    """Well-formed moves for the current player."""
    zero_sum: bool = True
    perfect_information: bool = True


class TextArenaGame:
    """A TextArena environment id, seen as a sparring game; each state owns one raw env."""

    num_players = 2

    def __init__(self, spec: TextArenaSpec):
        self.spec = spec
        self.name = spec.name

    def describe(self) -> str:
        return self.spec.rules

    def new_state(self, seed: int) -> TextArenaState:
        import textarena as ta

        env = ta.make(self.spec.env_id + "-raw")
        _, rng = run_with_rng(random.Random(seed).getstate(), lambda: env.reset(num_players=2, seed=seed))
        return TextArenaState(self.spec, env, rng)


class TextArenaState:
    """One position: the raw env, this game's own RNG state, and each seat's text history."""

    def __init__(self, spec: TextArenaSpec, env: Any, rng: RngState):
        self.spec = spec
        self._env = env
        self._rng = rng
        self._history: list[list[str]] = [[], []]
        self._collect()

    def _collect(self) -> None:
        """Move the messages TextArena queued for each seat into that seat's history."""
        import textarena as ta

        state = self._env.state
        for player in range(2):
            for sender, message, kind in state.observations[player]:
                if kind == ta.ObservationType.PROMPT:
                    self._history[player].append(message)
                else:
                    self._history[player].append(f"[{sender_name(state, sender)}] {message}")
            state.observations[player] = []

    @property
    def current_player(self) -> int:
        return TERMINAL if self.is_terminal() else self._env.state.current_player_id

    def is_terminal(self) -> bool:
        return bool(self._env.state.done)

    def returns(self) -> list[float]:
        rewards = self._env.state.rewards
        if not self.is_terminal() or not rewards:
            return [0.0, 0.0]
        return [float(rewards.get(player, 0)) for player in range(2)]

    def legal_actions(self, player: int | None = None) -> None:
        return None

    def example_actions(self) -> list[str]:
        return [] if self.is_terminal() else self.spec.examples(self._env)

    def observation(self, player: int) -> str:
        lines = list(self._history[player])
        if player == self.current_player:
            lines.append(self.spec.your_move(self._env))
        return "\n".join(lines)

    def apply(self, action: str) -> None:
        if self.is_terminal():
            raise InvalidAction("the game is over")
        env = copy.deepcopy(self._env)
        reason, rng = run_with_rng(self._rng, lambda: step_judged(env, action))
        if reason is not None:
            raise InvalidAction(reason)
        self._env, self._rng = env, rng
        self._collect()

    def clone(self) -> TextArenaState:
        return copy.deepcopy(self)

    def render(self) -> str:
        state = self._env.state
        if self.is_terminal():
            head = f"{self.spec.env_id}, game over after {state.turn} moves: {state.game_info[0].get('reason', '')}"
        else:
            head = f"{self.spec.env_id}, move {state.turn + 1}, player {state.current_player_id} to move"
        recent = [f"[{sender_name(state, sender)}] {message}" for sender, message in state.logs[-8:]]
        return "\n".join([head, self._env.get_board_str(), "Recent messages (all players):", *recent])


# Per-game additions: the "your move" line and example moves, reading the raw env's game_state.


def negotiation_your_move(env: Any) -> str:
    """Also says which turn it is: TextArena plays one turn more than its prompt announces."""
    state = env.state
    offer = state.game_state["current_offer"]
    accept = ", or [Accept] the offer on the table" if offer and offer["from_player"] != state.current_player_id else ""
    return (
        f"Turn {state.turn + 1} of {state.max_turns + 1}. Your move: talk, and optionally make one offer like "
        f"[Offer: 3 Sheep, 2 Ore -> 5 Brick] (give -> get){accept}."
    )


def negotiation_examples(env: Any) -> list[str]:
    state = env.state
    me, offer = state.current_player_id, state.game_state["current_offer"]
    have = state.game_state["player_resources"][me]
    moves = []
    if offer and offer["from_player"] != me:
        if all(have.get(r, 0) >= q for r, q in offer["requested_resources"].items()):
            moves.append("[Accept]")
        moves.append("[Deny]")
    for give, get in itertools.permutations(have, 2):
        moves += [f"[Offer: {n} {give} -> 1 {get}]" for n in (1, 2) if have[give] >= n]
    return [*moves, "Let us trade."]


def blotto_examples(env: Any) -> list[str]:
    """An even spread, everything on one field, and half on each of two fields."""
    names, units = env.field_names, env.num_total_units
    allocations = [[units // len(names) + (i < units % len(names)) for i in range(len(names))]]
    for i, j in itertools.combinations_with_replacement(range(len(names)), 2):
        split = [0] * len(names)
        split[i] += units - units // 2
        split[j] += units // 2
        allocations.append(split)
    return ["[" + " ".join(f"{n}{u}" for n, u in zip(names, split, strict=True)) + "]" for split in allocations]


def kuhn_moves(env: Any) -> list[str]:
    return [f"[{move}]" for move in env.state.game_state["current_legal_action_tree"]]


SPECS = [
    TextArenaSpec(
        name="ta_simple_negotiation",
        env_id="SimpleNegotiation-v0",
        perfect_information=False,
        description="TextArena SimpleNegotiation-v0: trade 5 resources with private random values; bigger value gain wins",
        rules=(
            "Simple negotiation (TextArena SimpleNegotiation-v0). Each player holds 5 to 25 each of Wheat, Wood, Sheep, "
            "Brick and Ore and privately values each resource (about 5, 10, 15, 25 and 40 per unit, give or take 20%). "
            "Players take turns, player 0 first. A turn is free text that may make one offer, e.g. "
            "[Offer: 3 Sheep, 2 Ore -> 5 Brick] (you give the left side and get the right side; you must hold what you "
            "give), or take the offer on the table with [Accept]. An offer stays on the table until accepted or replaced. "
            "After 11 turns the player whose inventory value grew more wins (+1, the other -1); equal growth is a draw."
        ),
        your_move=negotiation_your_move,
        examples=negotiation_examples,
    ),
    TextArenaSpec(
        name="ta_nim",
        env_id="Nim-v0",
        description="TextArena Nim-v0: piles 3, 4, 5; take from one pile; taking the last object wins",
        rules=(
            "Nim (TextArena Nim-v0). Piles of 3, 4 and 5 objects, numbered from 0. Players alternate, player 0 first; "
            "a move [pile quantity], e.g. [0 3], removes that many (at least 1) objects from one pile. "
            "Whoever takes the last object wins (+1, the other -1)."
        ),
        your_move=lambda env: "Your move: answer [pile quantity], e.g. [0 3].",
        examples=lambda env: [f"[{i} {q}]" for i, pile in enumerate(env.state.game_state["piles"]) for q in range(1, pile + 1)],
    ),
    TextArenaSpec(
        name="ta_pig_dice",
        env_id="PigDice-v0",
        description="TextArena PigDice-v0: roll or hold; a 1 loses the turn total; first to 100 wins",
        rules=(
            "Pig dice (TextArena PigDice-v0). On your turn answer [roll] or [hold], again and again: a roll of 2-6 adds "
            "to your turn total, a 1 loses it and ends your turn; [hold] banks the turn total and ends your turn. "
            "First to 100 points wins (+1, the other -1). After 100 moves in all (every roll and hold counts), the "
            "higher score wins when the turn passes; equal scores draw."
        ),
        your_move=lambda env: "Your move: answer [roll] or [hold].",
        examples=lambda env: ["[roll]", "[hold]"],
    ),
    TextArenaSpec(
        name="ta_colonel_blotto",
        env_id="ColonelBlotto-v0",
        perfect_information=False,
        description="TextArena ColonelBlotto-v0: split 20 units over 3 fields, 9 rounds, simultaneous moves",
        rules=(
            "Colonel Blotto (TextArena ColonelBlotto-v0). Each round both players split exactly 20 units over fields "
            "A, B and C, e.g. [A7 B7 C6]; player 0 answers first and player 1 without seeing it. More units win a "
            "field; more fields win the round. First to 5 rounds, or the better score after 9, wins (+1, the other -1); "
            "equal scores draw."
        ),
        your_move=lambda env: (
            f"Your move: answer with exactly {env.num_total_units} units over fields "
            f"{', '.join(env.field_names)}, e.g. {blotto_examples(env)[0]}."
        ),
        examples=blotto_examples,
    ),
    TextArenaSpec(
        name="ta_kuhn_poker",
        env_id="KuhnPoker-v0",
        perfect_information=False,
        description="TextArena KuhnPoker-v0: 3 hands of Kuhn poker; more chips at the end wins",
        rules=(
            "Kuhn poker, 3 hands (TextArena KuhnPoker-v0). Cards J < Q < K; each hand both players ante 1 chip and get "
            "one card. With no bet on the table answer [check] or [bet]; facing a bet answer [call] or [fold]. "
            "Player 1 opens the first hand and the opener alternates. TextArena's pot stays at the two antes whatever "
            "is bet, so each hand is worth 1 chip to the player who did not fold, or to the higher card at showdown. "
            "Whoever has more chips after 3 hands wins (+1, the other -1)."
        ),
        your_move=lambda env: "Your move: answer " + " or ".join(kuhn_moves(env)) + ".",
        examples=kuhn_moves,
    ),
]

for _spec in SPECS:
    register(
        GameEntry(
            name=_spec.name,
            num_players=2,
            source="textarena",
            description=_spec.description,
            make=functools.partial(TextArenaGame, _spec),
            zero_sum=_spec.zero_sum,
            perfect_information=_spec.perfect_information,
            requires=textarena_missing,
        )
    )
