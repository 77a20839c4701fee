"""The SPIRAL games follow the exact rules their docstrings state."""

from __future__ import annotations

import random

import pytest

from sparring.errors import UserError
from sparring.games import InvalidAction, make_game


def play(spec: str, moves: list[str], seed: int = 0):
    state = make_game(spec).new_state(seed)
    for move in moves:
        state.apply(move)
    return state


def test_tic_tac_toe_row_wins_for_x():
    state = play("tic_tac_toe", ["0", "3", "1", "4", "2"])
    assert state.is_terminal() and state.returns() == [1.0, -1.0]
    assert "X | X | X" in state.render()


def test_tic_tac_toe_full_board_is_a_draw():
    state = play("tic_tac_toe", ["0", "1", "2", "4", "3", "5", "7", "6", "8"])
    assert state.is_terminal() and state.returns() == [0.0, 0.0]


def test_tic_tac_toe_refuses_occupied_cell():
    state = play("tic_tac_toe", ["4"])
    with pytest.raises(InvalidAction, match="not a legal move"):
        state.apply("4")


def find_deal(spec: str, cards: tuple[str, str]) -> int:
    for seed in range(200):
        state = make_game(spec).new_state(seed)
        if f"Your card: {cards[0]}" in state.observation(0) and f"Your card: {cards[1]}" in state.observation(1):
            return seed
    raise AssertionError("deal not found")


@pytest.mark.parametrize(
    ("cards", "moves", "returns"),
    [
        (("K", "J"), ["check", "check"], [1.0, -1.0]),
        (("K", "J"), ["bet", "call"], [2.0, -2.0]),
        (("J", "K"), ["bet", "fold"], [1.0, -1.0]),
        (("J", "K"), ["check", "bet", "fold"], [-1.0, 1.0]),
        (("J", "Q"), ["check", "bet", "call"], [-2.0, 2.0]),
    ],
)
def test_kuhn_single_hand_payoffs(cards, moves, returns):
    state = play("kuhn_poker", moves, find_deal("kuhn_poker", cards))
    assert state.is_terminal() and state.returns() == returns


def test_kuhn_move_names_follow_the_betting():
    state = play("kuhn_poker", [])
    assert state.legal_actions() == ["check", "bet"]
    state.apply("bet")
    assert state.legal_actions() == ["fold", "call"]


def test_kuhn_series_scores_total_chips_and_alternates_opener():
    state = make_game("kuhn_poker:hands=4").new_state(11)
    openers = []
    hands_seen = 0
    while not state.is_terminal():
        if len(state.results) == hands_seen:
            openers.append(state.current_player)
            hands_seen += 1
        state.apply(state.legal_actions()[1])  # always bet / call: every hand is a 2-chip showdown
    assert openers == [0, 1, 0, 1]
    assert len(state.results) == 4
    assert state.returns() == [sum(r.net[0] for r in state.results), sum(r.net[1] for r in state.results)]
    assert all(abs(r.net[0]) == 2 for r in state.results)


def test_kuhn_series_rejects_bad_hands():
    with pytest.raises(UserError, match="hands"):
        make_game("kuhn_poker:hands=0")


def test_negotiation_favourable_trade_wins():
    # Player 0 values Gold 15 / Wood 5; giving 3 Wood for 2 Gold gains 15 for p0, loses 35 for p1.
    state = play("simple_negotiation", ["[Offer: 3 Wood -> 2 Gold]", "Sounds fair. [Accept]"] + ["hi"] * 8)
    assert state.is_terminal()
    assert state.inventory[0] == {"Wood": 7, "Gold": 12}
    assert state.gain(0) == 15 and state.gain(1) == 35
    assert state.returns() == [-1.0, 1.0]  # player 1 gained more


def test_negotiation_one_for_one_swap_is_a_draw():
    state = play("simple_negotiation", ["[Offer: 2 Gold -> 2 Wood]", "[Accept]"] + ["ok"] * 8)
    assert state.gain(0) == -20 and state.gain(1) == -20
    assert state.returns() == [0.0, 0.0]


def test_negotiation_refuses_unpayable_offer_and_accept_without_offer():
    state = play("simple_negotiation", [])
    with pytest.raises(InvalidAction, match="cannot offer"):
        state.apply("[Offer: 11 Wood -> 1 Gold]")
    with pytest.raises(InvalidAction, match="no offer open"):
        state.apply("[Accept]")
    with pytest.raises(InvalidAction, match="malformed"):
        state.apply("[Offer: lots of wood]")
    assert state.turn == 0


def test_negotiation_counter_offer_denies_the_open_one():
    state = play("simple_negotiation", ["[Offer: 1 Wood -> 1 Gold]", "[Offer: 1 Wood -> 2 Gold]"])
    assert state.offer is not None and state.offer.proposer == 1
    assert "denied" in state.observation(0)


def test_negotiation_lasts_ten_turns():
    state = play("simple_negotiation", ["hello"] * 9)
    assert not state.is_terminal()
    state.apply("bye")
    assert state.is_terminal()


def test_leduc_pair_beats_higher_card():
    # Deal p0 J, p1 K, public J: find a seed with that deal, check/check both rounds.
    for seed in range(500):
        state = make_game("leduc_poker").new_state(seed)
        if "Your card: J" in state.observation(0) and "Your card: K" in state.observation(1):
            state.apply("check")
            state.apply("check")
            if "Public card: J" in state.observation(0):
                state.apply("check")
                state.apply("check")
                assert state.returns() == [1.0, -1.0]
                return
    raise AssertionError("deal not found")


def test_liars_dice_bids_and_liar_call():
    state = make_game("liars_dice").new_state(0)
    assert state.legal_actions()[0] == "1x1" and "liar" not in state.legal_actions()
    state.apply("1x1")
    assert "liar" in state.legal_actions()
    assert "Player 0 bids 1x1" in state.observation(1)
    state.apply("liar")
    assert state.is_terminal() and sorted(state.returns()) == [-1.0, 1.0]


def test_unknown_game_and_bad_parameters_are_user_errors():
    with pytest.raises(UserError, match="unknown game 'tic_tac_tow'.*did you mean tic_tac_toe"):
        make_game("tic_tac_tow")
    with pytest.raises(UserError, match="valid: columns"):
        make_game("breakthrough:size=3")


def test_negotiation_offer_made_with_an_accept_is_paid_from_what_is_left_after_the_trade():
    # P1 accepts (paying 10 Wood) and in the same turn offers 5 Wood it will no longer hold.
    state = play("simple_negotiation", ["[Offer: 1 Gold -> 10 Wood]"])
    with pytest.raises(InvalidAction, match="cannot offer 5 Wood: you hold 0 Wood, 11 Gold"):
        state.apply("[Accept] [Offer: 5 Wood -> 1 Gold]")
    assert state.inventory == [{"Wood": 10, "Gold": 10}, {"Wood": 10, "Gold": 10}] and state.turn == 1
    state.apply("[Accept] [Offer: 5 Gold -> 1 Wood]")  # paid from the 11 Gold the trade left: fine
    assert state.inventory == [{"Wood": 20, "Gold": 9}, {"Wood": 0, "Gold": 11}]
    assert state.offer is not None and state.offer.give == {"Gold": 5}


def test_negotiation_accept_checks_the_proposer_can_still_pay():
    # Unreachable through apply() (an offer is checked when made), but a trade must never run on a stale offer.
    state = play("simple_negotiation", ["[Offer: 10 Wood -> 1 Gold]"])
    state.inventory[0]["Wood"] = 3
    with pytest.raises(InvalidAction, match="player 0 no longer holds 10 Wood"):
        state.apply("[Accept]")


def random_negotiation_move(rng: random.Random) -> str:
    """Any mix of accept, deny, offer (quantities up to 15, at times more than the proposer holds) and talk."""

    def bundle() -> str:
        names = rng.sample(["Wood", "Gold"], rng.randint(1, 2))
        return ", ".join(f"{rng.choice([1, 1, 2, 3, 5, 8, 10, 15])} {name}" for name in names)

    parts = []
    if rng.random() < 0.6:
        parts.append(rng.choice(["[Accept]", "[Accept]", "[Deny]"]))
    if rng.random() < 0.7:
        parts.append(f"[Offer: {bundle()} -> {bundle()}]")
    rng.shuffle(parts)
    return " ".join(parts) or "let us talk"


def test_negotiation_no_move_sequence_drives_an_inventory_negative():
    accepted = 0
    for seed in range(400):
        rng = random.Random(seed)
        state = make_game("simple_negotiation").new_state(seed)
        while not state.is_terminal():
            move = random_negotiation_move(rng)
            before = [dict(inventory) for inventory in state.inventory]
            try:
                state.apply(move)
            except InvalidAction:
                state.apply("pass")  # a refused move changes nothing; the turn goes on as talk
            accepted += state.inventory != before
            for player, inventory in enumerate(state.inventory):
                assert min(inventory.values()) >= 0, f"seed {seed}: player {player} holds {inventory} after {move!r}"
            assert [sum(inv[r] for inv in state.inventory) for r in ("Wood", "Gold")] == [20, 20]
    assert accepted > 100, "the random moves must exercise trades"
