"""Arena statistics: win/draw/loss/invalid per player with 95% Wilson intervals.

The games themselves are played by :func:`sparring.rollout.play_games` (the
one lockstep loop, shared with training). A move the game refuses (or no move
at all) forfeits that game: the offender loses, the others win, and the
invalid move is counted separately, so a player that cannot follow the rules
is never mistaken for one that plays badly.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sparring.evaluate.stats import rate
from sparring.rollout import GameRecord, play_games

__all__ = ["GameRecord", "play_games", "records_as_dicts", "summarize", "unique_labels"]


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
