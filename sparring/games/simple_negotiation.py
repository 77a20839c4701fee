"""Simple negotiation: SPIRAL's two-resource trading game, written natively.

Rules, exactly as played here (SPIRAL ``SimpleNegotiation-v1``, see
``shared/reference/self-play-algorithms.md`` section C):

- Two resources, Wood and Gold. Each player starts with 10 of each.
- Private values: player 0 values Wood at 5 and Gold at 15 per unit; player 1
  values Wood at 15 and Gold at 5. Each starting inventory is worth 200 to
  its owner. A player sees only their own values.
- 10 turns in total, alternating, player 0 first. A turn is free text that
  may contain one action:
  - ``[Offer: 3 Wood -> 2 Gold]``: offer to give 3 Wood for 2 Gold (either
    side may list both resources, e.g. ``[Offer: 2 Wood, 1 Gold -> 4 Gold]``).
    The proposer must hold what they offer. A new offer replaces (denies) any
    offer that was open to its proposer.
  - ``[Accept]`` / ``[Deny]``: answer the offer open to you. An accepted trade
    executes at once (both sides must hold their part). A turn may accept and
    make a new offer; the new offer is checked against what its proposer holds
    AFTER the accepted trade, so no sequence of moves can pay out more than a
    player holds.
  - Anything else is talk and changes nothing.
- Refused moves (raise InvalidAction): a malformed ``[Offer...]``, an offer
  the proposer cannot pay (after the trade it accepts, if any),
  ``[Accept]``/``[Deny]`` with no offer open to you, accepting an offer whose
  price you cannot pay.
- After turn 10, the player whose inventory value (by their own values) rose
  more gets +1, the other -1; equal changes are a draw (0, 0). A 1-for-1 swap
  of Wood for Gold is therefore a draw; trading Wood to player 1 for Gold
  helps player 0 only when the rate favours them.

Where sparring deliberately differs from SPIRAL: SPIRAL accepts only offers
that match one of three randomly drawn "legal" offers; sparring accepts any
well-formed offer the proposer can pay. Free text is allowed, so
``legal_actions`` is ``None``; ``example_actions`` lists well-formed moves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sparring.games.base import TERMINAL, InvalidAction
from sparring.games.registry import GameEntry, register

RESOURCES = ("Wood", "Gold")
VALUES = ({"Wood": 5, "Gold": 15}, {"Wood": 15, "Gold": 5})
START = 10
OFFER_RE = re.compile(r"\[\s*offer\s*:?(.*?)\]", re.IGNORECASE | re.DOTALL)
ITEM_RE = re.compile(r"^\s*(\d+)\s+(wood|gold)\s*$", re.IGNORECASE)
ACCEPT_RE = re.compile(r"\[\s*accept\s*\]", re.IGNORECASE)
DENY_RE = re.compile(r"\[\s*deny\s*\]", re.IGNORECASE)

Bundle = dict[str, int]


def parse_bundle(text: str) -> Bundle | None:
    """``3 Wood, 1 Gold`` -> {"Wood": 3, "Gold": 1}; None if malformed."""
    bundle: Bundle = {}
    for part in re.split(r",|\band\b", text):
        match = ITEM_RE.match(part)
        if not match or int(match.group(1)) < 1:
            return None
        name = match.group(2).title()
        bundle[name] = bundle.get(name, 0) + int(match.group(1))
    return bundle or None


def bundle_text(bundle: Bundle) -> str:
    return ", ".join(f"{q} {r}" for r, q in bundle.items())


def can_pay(holding: Bundle, bundle: Bundle) -> bool:
    """True if ``holding`` has at least ``bundle`` of every resource."""
    return all(holding.get(r, 0) >= q for r, q in bundle.items())


@dataclass
class Offer:
    proposer: int
    give: Bundle
    get: Bundle

    def text(self) -> str:
        return f"[Offer: {bundle_text(self.give)} -> {bundle_text(self.get)}]"


def traded(inventory: list[Bundle], offer: Offer, acceptor: int) -> list[Bundle]:
    """The inventories after ``acceptor`` accepts ``offer`` (new dicts; the input is not changed)."""
    after = [dict(b) for b in inventory]
    for r, q in offer.give.items():
        after[offer.proposer][r] -= q
        after[acceptor][r] += q
    for r, q in offer.get.items():
        after[acceptor][r] -= q
        after[offer.proposer][r] += q
    return after


class SimpleNegotiation:
    name = "simple_negotiation"
    num_players = 2

    def __init__(self, max_turns: int = 10):
        if max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        self.max_turns = max_turns

    def describe(self) -> str:
        return (
            f"Simple negotiation. Two players trade Wood and Gold for {self.max_turns} turns in total, "
            "taking turns, player 0 first. Each starts with 10 Wood and 10 Gold and knows only their own "
            "value per unit. On your turn you may make an offer such as [Offer: 3 Wood -> 2 Gold] "
            "(you give 3 Wood, you get 2 Gold; you must hold what you give), answer an offer made to you "
            "with [Accept] or [Deny], or just talk. When the turns run out, the player whose inventory "
            "value grew more wins (+1, the other -1); equal growth is a draw (0)."
        )

    def new_state(self, seed: int) -> NegotiationState:
        # No chance: the seed is accepted for the protocol and ignored.
        return NegotiationState(self.max_turns)


@dataclass
class NegotiationState:
    max_turns: int
    turn: int = 0
    inventory: list[Bundle] = field(default_factory=lambda: [dict.fromkeys(RESOURCES, START) for _ in range(2)])
    offer: Offer | None = None
    log: list[str] = field(default_factory=list)

    @property
    def current_player(self) -> int:
        return TERMINAL if self.is_terminal() else self.turn % 2

    def is_terminal(self) -> bool:
        return self.turn >= self.max_turns

    def value(self, player: int) -> int:
        return sum(q * VALUES[player][r] for r, q in self.inventory[player].items())

    def gain(self, player: int) -> int:
        return self.value(player) - START * sum(VALUES[player].values())

    def returns(self) -> list[float]:
        if not self.is_terminal():
            return [0.0, 0.0]
        g0, g1 = self.gain(0), self.gain(1)
        if g0 == g1:
            return [0.0, 0.0]
        return [1.0, -1.0] if g0 > g1 else [-1.0, 1.0]

    def legal_actions(self, player: int | None = None) -> None:
        return None

    def apply(self, action: str) -> None:
        if self.is_terminal():
            raise InvalidAction("the game is over")
        me = self.current_player
        open_to_me = self.offer is not None and self.offer.proposer != me
        accept, deny = bool(ACCEPT_RE.search(action)), bool(DENY_RE.search(action))
        offer_match = OFFER_RE.search(action)
        new_offer = None
        if (accept or deny) and not open_to_me:
            raise InvalidAction("there is no offer open to you to accept or deny")
        if accept and deny:
            raise InvalidAction("answer with [Accept] or [Deny], not both")
        # What each side holds once this turn's accept (if any) has executed: a new offer is paid from that.
        holdings = self.inventory
        if accept:
            if not can_pay(holdings[me], self.offer.get):
                raise InvalidAction(f"you cannot pay {bundle_text(self.offer.get)} to accept this offer")
            if not can_pay(holdings[self.offer.proposer], self.offer.give):
                raise InvalidAction(f"player {self.offer.proposer} no longer holds {bundle_text(self.offer.give)}")
            holdings = traded(holdings, self.offer, me)
        if offer_match:
            give, _, get = offer_match.group(1).partition("->")
            give_b, get_b = parse_bundle(give), parse_bundle(get)
            if give_b is None or get_b is None:
                raise InvalidAction("malformed offer; write it like [Offer: 3 Wood -> 2 Gold]")
            if not can_pay(holdings[me], give_b):
                raise InvalidAction(f"you cannot offer {bundle_text(give_b)}: you hold {bundle_text(holdings[me])}")
            new_offer = Offer(me, give_b, get_b)
        # Everything is checked; now change the state.
        self.log.append(f"[Player {me}] {action.strip()}")
        if accept:
            self.inventory = holdings
            self.log.append(f"[GAME] Player {me} accepted: the trade {self.offer.text()} is done.")
            self.offer = None
        elif open_to_me and (deny or new_offer):
            self.log.append(f"[GAME] Player {me} denied the offer.")
            self.offer = None
        if new_offer:
            self.offer = new_offer
            self.log.append(f"[GAME] Player {me} offers {new_offer.text()} to player {1 - me}.")
        self.turn += 1

    def example_actions(self) -> list[str]:
        me = self.current_player
        moves = []
        if self.offer is not None and self.offer.proposer != me:
            if can_pay(self.inventory[me], self.offer.get):
                moves.append("[Accept]")
            moves.append("[Deny]")
        for give, get in (("Wood", "Gold"), ("Gold", "Wood")):
            for a in range(1, 4):
                for b in range(1, 4):
                    if self.inventory[me][give] >= a:
                        moves.append(f"[Offer: {a} {give} -> {b} {get}]")
        moves.append("I will wait.")
        return moves

    def observation(self, player: int) -> str:
        inv = self.inventory[player]
        lines = [
            f"You are player {player}. Turn {min(self.turn + 1, self.max_turns)} of {self.max_turns}.",
            "Your resources: "
            + ", ".join(f"{r} {inv[r]} (worth {VALUES[player][r]} each)" for r in RESOURCES)
            + f"; total value {self.value(player)} (change {self.gain(player):+d}).",
            "History:" if self.log else "History: nothing yet.",
            *self.log,
        ]
        if self.offer is not None and self.offer.proposer != player and not self.is_terminal():
            lines.append(
                f"Open offer to you from player {self.offer.proposer}: you give "
                f"{bundle_text(self.offer.get)}, you get {bundle_text(self.offer.give)}."
            )
        if player == self.current_player:
            lines.append(
                "Your move: [Offer: X Wood -> Y Gold], [Offer: X Gold -> Y Wood], "
                "[Accept] or [Deny] (only to answer an offer made to you), or talk."
            )
        return "\n".join(lines)

    def clone(self) -> NegotiationState:
        return NegotiationState(
            self.max_turns,
            self.turn,
            [dict(b) for b in self.inventory],
            None if self.offer is None else Offer(self.offer.proposer, dict(self.offer.give), dict(self.offer.get)),
            list(self.log),
        )

    def render(self) -> str:
        lines = [f"Turn {self.turn} of {self.max_turns}"]
        for p in range(2):
            lines.append(
                f"Player {p}: {bundle_text(self.inventory[p])}, values {VALUES[p]}, "
                f"value {self.value(p)} (change {self.gain(p):+d})"
            )
        if self.offer:
            lines.append(f"Open offer from player {self.offer.proposer}: {self.offer.text()}")
        return "\n".join(lines + self.log[-6:])


register(
    GameEntry(
        name="simple_negotiation",
        num_players=2,
        source="native",
        description="trade Wood and Gold for 10 turns; bigger value gain wins (SPIRAL rules); SPIRAL training game",
        make=SimpleNegotiation,
    )
)
