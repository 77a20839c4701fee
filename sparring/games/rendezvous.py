"""Rendezvous: a cooperative text game where each partner holds half of a secret and must tell the other.

Rules, exactly as played here:

- A meeting is drawn from the seed: a day (monday, tuesday or wednesday) and
  a place (park, cafe or library), each equally likely. Player 0 is told only
  the day, player 1 only the place.
- Four turns. Turn 1: player 0 sends player 1 one message, free text of 1 to
  ``max_words`` words (default 12). Turn 2: player 1 sends player 0 one
  message. Turns 3 and 4: player 0, then player 1, names the meeting as
  ``<day> <place>`` (``tuesday cafe``), one of the 9 listed answers; neither
  sees the other's answer.
- Team reward, the same for both: half a point for each player who named
  the meeting exactly, so 1 when both did, 0.5 when one did, 0 otherwise.
- Refused moves (``InvalidAction``): an empty message or one over the word
  limit; an answer that is not one of the 9.

Nothing but the messages carries information across: a pair that answers at
random scores 1/9 on average, a pair that does not say its half at best 1/3
(each knows its own half and must guess the other's), and a pair that does
scores 1. There is no opponent to beat, only a partner to inform. The
messages are free text (``legal_actions`` is ``None`` on those turns);
``example_actions`` are messages a random partner might send -- naming a day
or place at random, so they tell nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sparring.games.base import TERMINAL, InvalidAction, refuse_unlisted
from sparring.games.openspiel import legal_moves_line
from sparring.games.registry import GameEntry, register

DAYS = ("monday", "tuesday", "wednesday")
PLACES = ("park", "cafe", "library")
ANSWERS = [f"{day} {place}" for day in DAYS for place in PLACES]
HALF = ("day", "place")
"""What each seat knows: player 0 the day, player 1 the place."""


@dataclass
class Rendezvous:
    max_words: int = 12
    name: str = "rendezvous"
    num_players: int = 2

    def __post_init__(self) -> None:
        if self.max_words < 1:
            raise ValueError(f"max_words must be at least 1, got {self.max_words}")

    def describe(self) -> str:
        return (
            "Rendezvous, a cooperative game for two players, who share one team reward. You must agree on a "
            "meeting: a day (monday, tuesday or wednesday) and a place (park, cafe or library). Player 0 is told "
            "only the day, player 1 only the place. First player 0 sends player 1 one message, then player 1 sends "
            f"player 0 one message (free text, 1 to {self.max_words} words). Then each player, without seeing the "
            "other's answer, names the meeting as day and place, for example: tuesday cafe. The team scores half a "
            "point for each player who names the meeting exactly; only the messages can tell your partner your half."
        )

    def new_state(self, seed: int) -> RendezvousState:
        rng = random.Random(seed)
        return RendezvousState(self, rng.choice(DAYS), rng.choice(PLACES))


@dataclass
class RendezvousState:
    game: Rendezvous
    day: str
    place: str
    messages: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)

    @property
    def turn(self) -> int:
        return len(self.messages) + len(self.answers)

    @property
    def current_player(self) -> int:
        return TERMINAL if self.is_terminal() else self.turn % 2

    def is_terminal(self) -> bool:
        return len(self.answers) == 2

    def secret(self, player: int) -> str:
        return self.day if player == 0 else self.place

    def legal_actions(self, player: int | None = None) -> list[str] | None:
        if self.is_terminal() or (player is not None and player != self.current_player):
            return []
        return None if len(self.messages) < 2 else list(ANSWERS)

    def example_actions(self) -> list[str]:
        """Well-formed messages that carry no information (a random day or place, not the true one)."""
        values = DAYS if self.current_player == 0 else PLACES
        return [f"the {HALF[self.current_player]} is {v}" for v in values] + ["see you there"]

    def apply(self, action: str) -> None:
        if self.is_terminal():
            raise InvalidAction("the game is over")
        if len(self.messages) < 2:
            words = action.split()
            if not words:
                raise InvalidAction("an empty message tells your partner nothing; write 1 to 12 words")
            if len(words) > self.game.max_words:
                raise InvalidAction(f"a message is at most {self.game.max_words} words; yours has {len(words)}")
            self.messages.append(" ".join(words))
        else:
            self.answers.append(refuse_unlisted(action, ANSWERS))

    def returns(self) -> list[float]:
        if not self.is_terminal():
            return [0.0, 0.0]
        meeting = f"{self.day} {self.place}"
        score = sum(0.5 for a in self.answers if a == meeting)
        return [score, score]

    def observation(self, player: int) -> str:
        lines = [f"You are player {player}. The meeting {HALF[player]} (only you know it): {self.secret(player)}."]
        for sender, text in enumerate(self.messages):
            who = "You" if sender == player else "Your partner"
            lines.append(f"{who} said: {text}")
        if player < len(self.answers):
            lines.append(f"You answered: {self.answers[player]}.")
        if player == self.current_player:
            if len(self.messages) < 2:
                lines.append(f"Send your partner one message (1 to {self.game.max_words} words).")
            else:
                lines.append("Name the meeting, day then place.")
                lines.append(legal_moves_line(ANSWERS))
        return "\n".join(lines)

    def clone(self) -> RendezvousState:
        return RendezvousState(self.game, self.day, self.place, list(self.messages), list(self.answers))

    def render(self) -> str:
        lines = [f"Meeting: {self.day} {self.place}"]
        lines += [f"Player {p} said: {m}" for p, m in enumerate(self.messages)]
        lines += [f"Player {p} answered: {a}" for p, a in enumerate(self.answers)]
        if self.is_terminal():
            lines.append(f"Team reward: {self.returns()[0]:g}")
        return "\n".join(lines)


register(
    GameEntry(
        name="rendezvous",
        num_players=2,
        source="native",
        description="cooperative: each partner knows half of a meeting (day or place) and must tell the other",
        make=Rendezvous,
        zero_sum=False,
        cooperative=True,
        perfect_information=False,
    )
)
