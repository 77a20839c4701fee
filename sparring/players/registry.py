"""Player specs: the strings users type (``random``, ``mcts:sims=200``, ...).

Each kind of player is one factory plus one ``register_player`` line; the
factory receives the game, a seed, and the spec's arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sparring.errors import UserError, did_you_mean
from sparring.games.base import Game
from sparring.players.base import Player
from sparring.specs import Spec, parse_spec


@dataclass(frozen=True)
class PlayerEntry:
    name: str
    description: str
    make: Callable[..., Player]
    """Called as ``make(game, seed, *args, **kwargs)``."""
    example: str = ""


_PLAYERS: dict[str, PlayerEntry] = {}


def register_player(entry: PlayerEntry) -> None:
    if entry.name in _PLAYERS:
        raise ValueError(f"player {entry.name!r} registered twice")
    _PLAYERS[entry.name] = entry


def player_entries() -> list[PlayerEntry]:
    """Every registered player; complete, since importing this module runs ``sparring.players``, which registers them."""
    return [_PLAYERS[k] for k in sorted(_PLAYERS)]


def make_player(spec: str | Spec, game: Game, seed: int = 0) -> Player:
    """Build the player a spec names, for ``game``; errors are one clear line."""
    spec = parse_spec(spec, what="player spec") if isinstance(spec, str) else spec
    entries = {e.name: e for e in player_entries()}
    if spec.name not in entries:
        valid = ", ".join(e.example or e.name for e in entries.values())
        raise UserError(f"unknown player {spec.name!r}{did_you_mean(spec.name, list(entries))}; players: {valid}")
    make = entries[spec.name].make
    try:
        inspect.signature(make).bind(game, seed, *spec.args, **spec.kwargs)
    except TypeError as err:
        params = [p for p in inspect.signature(make).parameters if p not in ("game", "seed")]
        raise UserError(f"bad player spec {str(spec)!r}: {err}; parameters: {', '.join(params) or 'none'}") from None
    player = make(game, seed, *spec.args, **spec.kwargs)
    if not getattr(player, "name", None) or player.name == spec.name:
        player.name = str(spec)
    return player


def describe_players() -> list[dict[str, Any]]:
    return [{"name": e.name, "example": e.example or e.name, "description": e.description} for e in player_entries()]
