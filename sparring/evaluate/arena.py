"""Arena: play many games between players, seats alternated, and score them honestly.

All games of a match run in lockstep: each tick, every game waiting on the
same player is handed to it in one ``act_batch`` call, so a language-model
player generates for dozens of games at once. A move the game refuses (or no
move at all) forfeits that game: the offender loses, the others win, and the
invalid move is counted separately so a player that cannot follow the rules
is never mistaken for one that plays badly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sparring.evaluate.stats import rate
from sparring.games.base import Game, InvalidAction
from sparring.players.base import Move, Player, act_many


@dataclass
class Turn:
    seat: int
    action: str | None
    text: str
    invalid: str | None = None


@dataclass
class GameRecord:
    """One finished game: who sat where, what happened, how it ended."""

    seed: int
    seating: list[int]
    """``seating[seat]`` is the index of the player in that seat."""
    returns: list[float]
    """Per seat. A forfeit scores -1 for the offender and +1 for the others."""
    turns: list[Turn] = field(default_factory=list)
    moves: int = 0
    invalid_seat: int | None = None
    invalid_reason: str | None = None
    truncated: bool = False

    def outcome(self, player: int) -> str:
        """``win``, ``draw`` or ``loss`` for the player with that index."""
        seat = self.seating.index(player)
        mine = self.returns[seat]
        best_other = max(r for s, r in enumerate(self.returns) if s != seat)
        return "win" if mine > best_other else "loss" if mine < best_other else "draw"


def play_games(
    game: Game,
    players: list[Player],
    num_games: int,
    seed: int = 0,
    max_turns: int = 200,
    progress: bool = False,
    keep_turns: bool = True,
) -> list[GameRecord]:
    """Play ``num_games`` games; in game i, seat s is taken by player (s + i) % n.

    Game i is dealt from seed ``seed + i``, so a match replays exactly. Games
    still running after ``max_turns`` moves end as draws (``truncated``).
    """
    n = game.num_players
    if len(players) != n:
        raise ValueError(f"{game.name} needs {n} players, got {len(players)}")
    states = [game.new_state(seed + i) for i in range(num_games)]
    records = [GameRecord(seed + i, [(s + i) % n for s in range(n)], [0.0] * n) for i in range(num_games)]
    active = [i for i in range(num_games) if not states[i].is_terminal()]
    with _progress(progress, num_games, f"{game.name}") as bar:
        task = bar.add_task(game.name, total=num_games, completed=num_games - len(active))
        while active:
            waiting: dict[int, list[int]] = defaultdict(list)
            for i in active:
                waiting[records[i].seating[states[i].current_player]].append(i)
            finished = []
            for p, games in waiting.items():
                seats = [states[i].current_player for i in games]
                moves = act_many(players[p], [states[i] for i in games], seats)
                for i, seat, move in zip(games, seats, moves, strict=True):
                    if _play_turn(states[i], records[i], seat, move, keep_turns, max_turns):
                        finished.append(i)
            active = [i for i in active if i not in set(finished)]
            bar.update(task, completed=num_games - len(active))
    return records


def _play_turn(state: Any, record: GameRecord, seat: int, move: Move, keep: bool, max_turns: int) -> bool:
    """Apply one move to one game; True when that game has ended."""
    record.moves += 1
    reason = move.reason or "no move"
    if move.action is not None:
        try:
            state.apply(move.action)
            reason = None
        except InvalidAction as err:
            reason = err.reason
    if keep:
        record.turns.append(Turn(seat, move.action, move.text, reason))
    if reason is not None:
        record.invalid_seat, record.invalid_reason = seat, reason
        record.returns = [-1.0 if s == seat else 1.0 for s in range(len(record.returns))]
        return True
    if state.is_terminal():
        record.returns = state.returns()
        return True
    if record.moves >= max_turns:
        record.truncated = True
        return True
    return False


def _progress(enabled: bool, total: int, label: str) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled or total < 2,
        transient=True,
    )


def summarize(records: list[GameRecord], names: list[str]) -> dict[str, Any]:
    """Per player: win/draw/loss/invalid rates with 95% Wilson intervals, overall and by seat."""
    out: dict[str, Any] = {}
    labels = unique_labels(names)
    for p, label in enumerate(labels):
        out[label] = _tally(records, p)
        seats = sorted({r.seating.index(p) for r in records})
        out[label]["by_seat"] = {str(s): _tally([r for r in records if r.seating.index(p) == s], p) for s in seats}
        out[label]["spec"] = names[p]
    return out


def _tally(records: list[GameRecord], p: int) -> dict[str, Any]:
    n = len(records)
    counts = {k: sum(r.outcome(p) == k for r in records) for k in ("win", "draw", "loss")}
    invalid = sum(r.invalid_seat is not None and r.seating[r.invalid_seat] == p for r in records)
    mean_return = sum(r.returns[r.seating.index(p)] for r in records) / n if n else 0.0
    stats = {k: rate(v, n) for k, v in counts.items()}
    stats["invalid"] = rate(invalid, n)
    return {
        "games": n,
        **{k: v["rate"] for k, v in stats.items()},
        "intervals": {k: [v["low"], v["high"]] for k, v in stats.items()},
        "mean_return": mean_return,
    }


def unique_labels(names: list[str]) -> list[str]:
    """Player names, made distinct (``random`` vs ``random`` -> ``random``, ``random#2``)."""
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return labels


def records_as_dicts(records: list[GameRecord]) -> list[dict[str, Any]]:
    return [asdict(r) for r in records]
