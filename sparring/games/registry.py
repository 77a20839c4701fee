"""The game registry: every game is one file that ends with one ``register`` line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sparring.errors import UserError, did_you_mean
from sparring.games.base import Game
from sparring.specs import Spec, bind_spec, parse_spec


@dataclass(frozen=True)
class GameEntry:
    """What the registry knows about a game before building it."""

    name: str
    num_players: int
    source: str
    """Where the rules come from: ``openspiel``, ``textarena`` or ``native``."""
    description: str
    make: Callable[..., Game]
    """Builds the game; keyword arguments are the game's parameters."""
    zero_sum: bool = True
    cooperative: bool = False
    """Every seat gets the same return (a team game: tiny_hanabi, rendezvous). Such a game is not zero-sum; a
    game that is merely not zero-sum (propose_solve) is not cooperative."""
    perfect_information: bool = True
    exploitability: bool = False
    """Exact exploitability can be computed (two-player zero-sum OpenSpiel game)."""
    team_optimum: bool = False
    """A cooperative game (every seat gets the same return) small enough that the best joint policy's team
    return is computed exactly (``sparring.evaluate.cooperative``): evaluation reports the policy's team
    return against it where a zero-sum game reports exploitability."""
    enumerable: bool = False
    """OpenSpiel can list every (information) state in reasonable time (pretraining's distill phase);
    implied by ``exploitability`` and ``team_optimum``, which need the same enumeration."""
    requires: Callable[[], str | None] = field(default=lambda: None)
    """Returns why the game cannot be built here (missing extra), or ``None``."""
    prior: Callable[[Any], dict[str, float]] | None = None
    """The weak, state-dependent play the bundled base model was pretrained on (``sparring.games.priors``;
    stated in the game's docstring); ``None``: uniform over the legal moves."""
    proposer_seat: int | None = None
    """The seat whose first move writes a task for another seat (propose_solve, qrv): the one
    ``rollout.repetition_penalty`` applies to."""
    roles: tuple[str, ...] = ()
    """Role names by seat in an asymmetric game (proposer, solver, ...): replays, the report's viewer and
    charts, and ``sparring replay`` name seats by them. Empty: seats are only numbered."""

    @property
    def unavailable(self) -> str | None:
        return self.requires()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "num_players": self.num_players,
            "source": self.source,
            "description": self.description,
            "zero_sum": self.zero_sum,
            "cooperative": self.cooperative,
            "perfect_information": self.perfect_information,
            "exploitability": self.exploitability,
            "team_optimum": self.team_optimum,
            "roles": list(self.roles),
            "available": self.unavailable is None,
            "unavailable_reason": self.unavailable,
        }


_REGISTRY: dict[str, GameEntry] = {}


def register(entry: GameEntry) -> GameEntry:
    if entry.name in _REGISTRY:
        raise ValueError(f"game {entry.name!r} registered twice")
    if entry.roles and len(entry.roles) != entry.num_players:
        raise ValueError(f"game {entry.name!r}: {len(entry.roles)} role names for {entry.num_players} seats")
    _REGISTRY[entry.name] = entry
    return entry


def game_entries() -> list[GameEntry]:
    """Every registered game, sorted by name (available or not).

    Complete whenever this can be called: importing this module imports the
    package ``sparring.games`` first, and the package imports (registers) every game.
    """
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def game_entry(name: str) -> GameEntry:
    entries = {e.name: e for e in game_entries()}
    if name not in entries:
        valid = sorted(entries)
        raise UserError(f"unknown game {name!r}{did_you_mean(name, valid)}; games: {', '.join(valid)}")
    return entries[name]


def role_names(game: str) -> list[str] | None:
    """The game's role names by seat, or None where seats are only numbered (or the game is not registered)."""
    entry = _REGISTRY.get(game.partition(":")[0])
    return list(entry.roles) if entry is not None and entry.roles else None


def is_zero_sum(game: Game) -> bool:
    """Whether ``game`` is registered as zero-sum (a game built outside the registry, as in a test, counts as one)."""
    entry = _REGISTRY.get(game.name)
    return entry is None or entry.zero_sum


def is_cooperative(game: Game) -> bool:
    """Whether ``game`` is registered as a team game, every seat getting the same return (never one built outside)."""
    entry = _REGISTRY.get(game.name)
    return entry is not None and entry.cooperative


def make_game(spec: str | Spec) -> Game:
    """Build a game from ``name`` or ``name:key=value,...`` (e.g. ``kuhn_poker:hands=5``)."""
    spec = parse_spec(spec, what="game") if isinstance(spec, str) else spec
    entry = game_entry(spec.name)
    missing = entry.unavailable
    if missing:
        raise UserError(f"game {entry.name!r} is not available: {missing}")
    if spec.args:
        raise UserError(f"game {spec} takes key=value parameters only, got {spec.args}")
    bound = bind_spec(entry.make, spec, what="game")  # each value checked against its declared type
    try:
        return entry.make(*bound.args, **bound.kwargs)
    except TypeError as err:
        raise UserError(f"bad parameters for game {entry.name!r}: {err}") from None
    except ValueError as err:
        raise UserError(f"bad parameters for game {entry.name!r}: {err}") from None
