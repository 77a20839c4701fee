"""Lockstep batched play: many games at once, one decision call per player per tick.

This is the one game loop in sparring. The arena uses it to evaluate, the
training loop uses it to collect self-play turns. Each tick it groups every
game waiting on the same player object -- in self-play that is one language
model for every seat of every game -- and asks that player once, so a model
generates for all of them in a single batched call.

A move the game refuses, or no usable move at all, ends that game: the
offender is scored ``forfeit[0]`` and every other seat ``forfeit[1]`` (the
arena uses -1/+1; training uses SPIRAL's -1.5/+0.5). In a cooperative game
(a team game: every seat shares one return) the other seats get 0 instead,
as in MARS's Hanabi: a partner's mistake is nobody's win. A game still running after
``max_turns`` moves is a draw.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sparring.games.base import (
    PLACEMENT_SCORES,
    Game,
    InvalidAction,
    ReportsStats,
    ScoredTurns,
    State,
    pairwise_scores,
    placement,
)
from sparring.games.registry import is_cooperative
from sparring.players.base import Move, Player, act_many

if TYPE_CHECKING:
    from sparring.config import RolloutSection

__all__ = ["PLACEMENT_SCORES", "GameRecord", "Table", "Turn", "pairwise_scores", "placement", "play_games", "play_tables"]


@dataclass
class Turn:
    """One decision: who made it, what they said, what it did."""

    seat: int
    action: str | None
    text: str
    invalid: str | None = None
    """Why the move was refused (or why there was none); None if it was played."""
    observation: str = ""
    """What the seat saw when deciding (kept for replays)."""
    info: dict[str, Any] = field(default_factory=dict)
    """The player's extras (a model's prompt ids, response ids and log-probs)."""


@dataclass
class GameRecord:
    """One finished game: who sat where, what happened, how it was scored."""

    game: str
    seed: int
    seating: list[int]
    """``seating[seat]`` is the index of the player (in the table's player list) in that seat."""
    returns: list[float]
    """Per seat: the game's returns, or the forfeit scores after an invalid move, or zeros if truncated."""
    turns: list[Turn] = field(default_factory=list)
    moves: int = 0
    invalid_seat: int | None = None
    invalid_reason: str | None = None
    truncated: bool = False
    turn_rewards: dict[int, list[float]] = field(default_factory=dict)
    """Seat -> one reward per turn, for seats the game scores turn by turn (``ScoredTurns``); else absent."""
    stats: dict[str, float] = field(default_factory=dict)
    """Figures the finished game reports of itself (``ReportsStats``), logged per game."""

    def outcome(self, player: int) -> str:
        """``win``, ``draw`` or ``loss`` for the player with that index (see :func:`placement`)."""
        return placement(self.returns, self.seating.index(player))


@dataclass
class Table:
    """One game to play: the game, its seed, and the player object in each seat."""

    game: Game
    seed: int
    players: list[Player]
    seating: list[int] | None = None
    """Player indices by seat, for the record (defaults to 0, 1, ...)."""


def play_tables(
    tables: list[Table],
    max_turns: int = 200,
    forfeit: tuple[float, float] = (-1.0, 1.0),
    progress: bool = False,
    keep_turns: bool = True,
    label: str = "playing",
    forfeit_in_stakes: bool = False,
) -> list[GameRecord]:
    """Play every table to the end in lockstep; records come back in table order.

    ``forfeit_in_stakes`` counts the forfeit scores in each game's largest stake (``rollout.invalid_in_stakes``).
    """
    states: list[State] = [t.game.new_state(t.seed) for t in tables]
    records = [
        GameRecord(t.game.name, t.seed, t.seating or list(range(len(t.players))), [0.0] * t.game.num_players) for t in tables
    ]
    scores = [forfeit_scores(t.game, forfeit, forfeit_in_stakes) for t in tables]
    active = [i for i, s in enumerate(states) if not s.is_terminal()]
    for i in set(range(len(tables))) - set(active):
        records[i].returns = states[i].returns()
    total = len(tables)
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not progress or total < 2,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total, completed=total - len(active))
        while active:
            waiting: dict[int, list[int]] = defaultdict(list)
            for i in active:
                waiting[id(tables[i].players[states[i].current_player])].append(i)
            finished: set[int] = set()
            for games in waiting.values():
                player = tables[games[0]].players[states[games[0]].current_player]
                seats = [states[i].current_player for i in games]
                moves = act_many(player, [states[i] for i in games], seats, [tables[i].game for i in games])
                for i, seat, move in zip(games, seats, moves, strict=True):
                    if _play_turn(states[i], records[i], seat, move, keep_turns, max_turns, scores[i]):
                        finished.add(i)
            active = [i for i in active if i not in finished]
            bar.update(task, completed=total - len(active))
    return records


def play_by_rules(tables: list[Table], rules: RolloutSection) -> list[GameRecord]:
    """Play tables under a run's ``rollout`` section (turn limit, forfeit scores and their unit): the one
    call the local rollout and the Ray workers share, so both score a game the same way."""
    forfeit = (rules.invalid_penalty, rules.invalid_opponent_reward)
    return play_tables(tables, max_turns=rules.max_turns, forfeit=forfeit, forfeit_in_stakes=rules.invalid_in_stakes)


def forfeit_scores(game: Game, forfeit: tuple[float, float], in_stakes: bool = False) -> tuple[float, float]:
    """(offender, every other seat) when ``game`` ends on an invalid move: in units, or in the game's largest
    stake (``game.stakes`` where a game declares one, else 1); the others get 0 in a team game."""
    scale = float(getattr(game, "stakes", 1.0)) if in_stakes else 1.0
    return (forfeit[0] * scale, 0.0 if is_cooperative(game) else forfeit[1] * scale)


def _play_turn(
    state: State, record: GameRecord, seat: int, move: Move, keep: bool, max_turns: int, forfeit: tuple[float, float]
) -> bool:
    """Apply one move to one game; True when that game has ended."""
    record.moves += 1
    observation = state.observation(seat) if keep else ""
    reason = move.reason or "no move"
    if move.action is not None:
        try:
            state.apply(move.action)
            reason = None
        except InvalidAction as err:
            reason = err.reason
    if keep:
        record.turns.append(Turn(seat, move.action, move.text, reason, observation, move.info))
    if reason is not None:
        record.invalid_seat, record.invalid_reason = seat, reason
        record.returns = [forfeit[0] if s == seat else forfeit[1] for s in range(len(record.returns))]
        return True
    if state.is_terminal():
        record.returns = state.returns()
        if isinstance(state, ScoredTurns):
            scored = {s: state.turn_rewards(s) for s in range(len(record.returns))}
            record.turn_rewards = {s: r for s, r in scored.items() if r is not None}
        if isinstance(state, ReportsStats):
            record.stats = state.stats()
        return True
    if record.moves >= max_turns:
        record.truncated = True
        return True
    return False


def play_games(
    game: Game,
    players: list[Player],
    num_games: int,
    seed: int = 0,
    max_turns: int = 200,
    progress: bool = False,
    keep_turns: bool = True,
    forfeit: tuple[float, float] = (-1.0, 1.0),
) -> list[GameRecord]:
    """A match: ``num_games`` games, game i from seed ``seed + i`` with seat s taken by player (s + i) % n."""
    n = game.num_players
    if len(players) != n:
        raise ValueError(f"{game.name} needs {n} players, got {len(players)}")
    tables = []
    for i in range(num_games):
        seating = [(s + i) % n for s in range(n)]
        tables.append(Table(game, seed + i, [players[p] for p in seating], seating))
    return play_tables(tables, max_turns=max_turns, forfeit=forfeit, progress=progress, keep_turns=keep_turns, label=game.name)
