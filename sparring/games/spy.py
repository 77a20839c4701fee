"""Who is the spy: a 3- or 4-seat social deduction game, the text form of Vision-Zero's game (issue 13).

Rules, exactly as played here:

- ``players`` seats, 3 or 4 (``spy:players=4``; default 3).
- From the seed: four different items from :data:`POOL` (twelve everyday
  nouns) and one seat, the spy. Every seat gets a list of 3 items; the
  non-spies all get the same list, the spy the same list with one item (at a
  drawn position) replaced by the fourth. A seat sees only its own list and is
  never told whether it is the spy.
- Description round: seats 0, 1, ..., N-1 in turn each name one item of
  their own list (the legal moves are exactly its 3 items). Every seat sees
  all descriptions so far.
- Vote round: seats 0, 1, ..., N-1 in turn each vote for another seat
  (``seat 2``; voting for oneself is refused). Votes are secret until the
  game ends: a voter never sees the earlier votes.
- The seat with the most votes is accused; a tie for the most accuses
  nobody. Spy accused: every non-spy +1, the spy -(N-1). Otherwise the spy
  +(N-1), every non-spy -1. Zero-sum.
- A describing turn lists its legal moves in double quotes (``"bicycle"``),
  so that the item's tokens are the ones the answer ``\\boxed{bicycle}``
  takes (see ``base.example_block``).
- Refused moves (``InvalidAction``): a description not in one's own list, a
  vote for oneself or for a seat that does not exist.

The spy wins by blending in: naming a shared item it happens to hold; a
non-spy's only evidence is which described items are missing from its own
list (at most the spy's odd item, when the spy names it).

Prior of the bundled base model (:func:`prior`; the bundled model saw it in
its stages 9 and 11-13): describing, uniform over one's own 3 items;
voting, 40% of the mass spread over the seats whose description is not in
the voter's own list (when there are any), the rest uniform over the legal
votes. It reads the one clue in plain sight and nothing else.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from sparring.games.base import TERMINAL, InvalidAction, refuse_unlisted
from sparring.games.openspiel import legal_moves_line
from sparring.games.priors import mix, uniform
from sparring.games.registry import GameEntry, register

POOL = ("apple", "chair", "river", "candle", "bicycle", "window", "guitar", "pillow", "bridge", "kettle", "garden", "mirror")
"""The everyday nouns a game's items are drawn from."""

ITEMS = 3
"""Items in each seat's list."""

SEATS = (3, 4)
"""The seat counts the rules are stated for."""


def seat_name(seat: int) -> str:
    return f"seat {seat}"


@dataclass
class Spy:
    num_players: int = 3
    name: str = "spy"

    def describe(self) -> str:
        n = self.num_players
        order = ", ".join(map(str, range(n)))
        return (
            f"Who is the spy, a zero-sum game for {n} players, seated {order}. Each player gets a list of {ITEMS} "
            "everyday items. All players but one share the same list; the spy's list is the same with one item "
            "replaced. You see only your own list and are not told whether you are the spy. First, in seat order, "
            "each player names one item from their own list; everyone sees every description. Then, in seat order, "
            "each player votes for another player, answering like: seat 2. Votes stay secret until the end. The "
            "player with the most votes is accused; a tie accuses nobody. If the spy is accused, every other player "
            f"scores +1 and the spy {-(n - 1)}; otherwise the spy scores +{n - 1} and every other player -1."
        )

    def new_state(self, seed: int) -> SpyState:
        rng = random.Random(seed)
        drawn = rng.sample(POOL, ITEMS + 1)
        shared, odd = drawn[:ITEMS], drawn[ITEMS]
        spy, position = rng.randrange(self.num_players), rng.randrange(ITEMS)
        spy_items = [odd if k == position else item for k, item in enumerate(shared)]
        items = [list(spy_items) if p == spy else list(shared) for p in range(self.num_players)]
        return SpyState(self, items, spy)


def make_spy(players: int = 3) -> Spy:
    """``players`` seats, 3 or 4: the rules (and the prior) are stated for those."""
    if players not in SEATS:
        raise ValueError(f"players must be 3 or 4, got {players}")
    return Spy(players)


@dataclass
class SpyState:
    game: Spy
    items: list[list[str]]
    """Per seat, its list of items (the spy's differs from the others' in one place)."""
    spy: int
    descriptions: list[str] = field(default_factory=list)
    """The item each seat named, in seat order."""
    votes: list[int] = field(default_factory=list)
    """The seat each seat voted for, in seat order."""

    @property
    def current_player(self) -> int:
        return TERMINAL if self.is_terminal() else (len(self.descriptions) + len(self.votes)) % self.game.num_players

    def voting(self) -> bool:
        return len(self.descriptions) == self.game.num_players

    def is_terminal(self) -> bool:
        return len(self.votes) == self.game.num_players

    def vote_choices(self, voter: int) -> list[str]:
        return [seat_name(s) for s in range(self.game.num_players) if s != voter]

    def legal_actions(self, player: int | None = None) -> list[str]:
        if self.is_terminal() or (player is not None and player != self.current_player):
            return []
        mover = self.current_player
        return self.vote_choices(mover) if self.voting() else list(self.items[mover])

    def apply(self, action: str) -> None:
        if self.is_terminal():
            raise InvalidAction("the game is over")
        mover = self.current_player
        if not self.voting():
            self.descriptions.append(refuse_unlisted(action, self.items[mover]))
            return
        if action.strip().lower() == seat_name(mover):
            raise InvalidAction(f"you cannot vote for yourself; vote for another seat: {', '.join(self.vote_choices(mover))}")
        self.votes.append(int(refuse_unlisted(action, self.vote_choices(mover)).split()[1]))

    def accused(self) -> int | None:
        """The seat with the most votes, or ``None`` on a tie for the most (or before the end)."""
        if not self.is_terminal():
            return None
        (top, most), *rest = Counter(self.votes).most_common()
        return None if rest and rest[0][1] == most else top

    def returns(self) -> list[float]:
        n = self.game.num_players
        if not self.is_terminal():
            return [0.0] * n
        caught = self.accused() == self.spy
        spy_gets = -(n - 1.0) if caught else n - 1.0
        return [spy_gets if p == self.spy else -spy_gets / (n - 1) for p in range(n)]

    def descriptions_text(self) -> str:
        said = [f"{seat_name(p)} named {item}" for p, item in enumerate(self.descriptions)]
        return ", ".join(said) if said else "none yet"

    def observation(self, player: int) -> str:
        lines = [
            f"You are seat {player} of {self.game.num_players}. Your items: {', '.join(self.items[player])}.",
            f"Descriptions so far: {self.descriptions_text()}.",
        ]
        if player < len(self.votes):
            lines.append(f"You voted for {seat_name(self.votes[player])}.")
        if player == self.current_player:
            if self.voting():
                lines.append("Vote for the seat you think is the spy (votes stay secret until the end).")
                lines.append(legal_moves_line(self.legal_actions()))
            else:
                # Quoted: after a space an item's first token differs from the one that follows \boxed{ (the
                # bundled tokenizer splits " bicycle" as " b ic ..." and "{bicycle" as "b ic ..."); after a
                # quote it is the same, so naming an item is copying tokens (see base.example_block).
                lines.append("Name one item from your list.")
                lines.append(legal_moves_line(self.legal_actions(), quoted=True))
        return "\n".join(lines)

    def clone(self) -> SpyState:
        return SpyState(self.game, [list(i) for i in self.items], self.spy, list(self.descriptions), list(self.votes))

    def render(self) -> str:
        lines = [f"{seat_name(p)}{' (spy)' if p == self.spy else ''}: {', '.join(i)}" for p, i in enumerate(self.items)]
        lines.append(f"Descriptions: {self.descriptions_text()}")
        votes = [f"{seat_name(p)} -> {seat_name(v)}" for p, v in enumerate(self.votes)]
        lines.append(f"Votes: {', '.join(votes) if votes else 'none yet'}")
        if self.is_terminal():
            accused = self.accused()
            who = "nobody (a tie)" if accused is None else seat_name(accused)
            lines.append(f"Accused: {who}; the spy was {seat_name(self.spy)}. Returns: {self.returns()}")
        return "\n".join(lines)


def prior(state: SpyState) -> dict[str, float]:
    """The weak one-clue play stated in the module docstring."""
    if not state.voting():
        return uniform(state)
    own = state.items[state.current_player]
    odd = [seat_name(p) for p, item in enumerate(state.descriptions) if item not in own]
    return mix(odd, state.legal_actions(), 0.4) if odd else uniform(state)


register(
    GameEntry(
        name="spy",
        num_players=3,
        source="native",
        description="who is the spy: name one of your 3 items, then vote out the one seat whose list differs (players=4)",
        make=make_spy,
        perfect_information=False,
        prior=prior,
    )
)
