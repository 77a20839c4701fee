"""Player specs: the strings users type (``random``, ``mcts:sims=200``, ...).

Each kind of player is one factory plus one ``register_player`` line; the
factory receives the game, a seed, and the spec's arguments, each checked
against the type the factory declares for it (``sims: int = 200``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sparring.errors import UserError, did_you_mean
from sparring.games.base import Game
from sparring.players.base import Player
from sparring.specs import Spec, bind_spec, parse_spec


@dataclass(frozen=True)
class PlayerEntry:
    name: str
    description: str
    make: Callable[..., Player]
    """Called as ``make(game, seed, *args, **kwargs)``."""
    example: str = ""
    check: Callable[..., None] | None = None
    """For players too heavy to build just to validate (a model): called like ``make``, it checks the
    arguments without building (e.g. that the model directory exists). Others are built to be checked."""


_PLAYERS: dict[str, PlayerEntry] = {}


def register_player(entry: PlayerEntry) -> None:
    if entry.name in _PLAYERS:
        raise ValueError(f"player {entry.name!r} registered twice")
    _PLAYERS[entry.name] = entry


def player_entries() -> list[PlayerEntry]:
    """Every registered player; complete, since importing this module runs ``sparring.players``, which registers them."""
    return [_PLAYERS[k] for k in sorted(_PLAYERS)]


def _entry(spec: str | Spec) -> tuple[Spec, PlayerEntry]:
    spec = parse_spec(spec, what="player spec") if isinstance(spec, str) else spec
    entries = {e.name: e for e in player_entries()}
    if spec.name not in entries:
        valid = ", ".join(e.example or e.name for e in entries.values())
        raise UserError(f"unknown player {spec.name!r}{did_you_mean(spec.name, list(entries))}; players: {valid}")
    return spec, entries[spec.name]


def check_player(spec: str | Spec, game: Game) -> None:
    """Raise the one-line error ``make_player(spec, game)`` would, without building a heavy player.

    Lets a run refuse a bad opponent before it creates anything on disk: the
    spec's name and parameter types are checked, then the player is built and
    dropped -- or, for players with an entry ``check`` (a model), only that runs.
    """
    spec, entry = _entry(spec)
    bound = bind_spec(entry.make, spec, game, 0, what="player spec")
    (entry.check or entry.make)(*bound.args, **bound.kwargs)


def make_player(spec: str | Spec, game: Game, seed: int = 0) -> Player:
    """Build the player a spec names, for ``game``; errors are one clear line."""
    spec, entry = _entry(spec)
    bound = bind_spec(entry.make, spec, game, seed, what="player spec")
    player = entry.make(*bound.args, **bound.kwargs)
    if not getattr(player, "name", None) or player.name == spec.name:
        player.name = str(spec)
    return player


def describe_players() -> list[dict[str, Any]]:
    return [{"name": e.name, "example": e.example or e.name, "description": e.description} for e in player_entries()]
