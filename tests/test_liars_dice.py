"""Liar's dice for N seats: the native game equals OpenSpiel's with two players, and its 3-seat rules hold."""

from __future__ import annotations

import random

import pyspiel
import pytest

from sparring.errors import UserError
from sparring.games import InvalidAction, make_game
from sparring.games.liars_dice import LiarsDice, LiarsDiceState, prior
from sparring.games.openspiel import OpenSpielGame


def three(dice: list[str], moves: list[str]) -> LiarsDiceState:
    state = LiarsDiceState(LiarsDice(3), dice)
    for move in moves:
        state.apply(move)
    return state


def test_native_rules_equal_openspiel_with_two_players_move_for_move():
    osp = make_game("liars_dice")
    assert isinstance(osp, OpenSpielGame)
    native = LiarsDice(2)
    rng = random.Random(0)
    for game in range(300):
        d0, d1 = rng.randint(1, 6), rng.randint(1, 6)
        pstate = osp.pyspiel_game.new_initial_state()
        pstate.apply_action(d0 - 1)
        pstate.apply_action(d1 - 1)
        theirs, mine = osp.wrap(pstate), LiarsDiceState(native, [str(d0), str(d1)])
        while not theirs.is_terminal():
            assert mine.current_player == theirs.current_player
            assert mine.legal_actions() == theirs.legal_actions()
            for p in range(2):
                assert mine.observation(p) == theirs.observation(p)
            move = rng.choice(theirs.legal_actions()) if game % 3 else theirs.legal_actions()[-1]
            theirs.apply(move)
            mine.apply(move)
        assert mine.is_terminal() and mine.returns() == theirs.returns()
        assert mine.render() == theirs.render()


def test_players_three_is_the_native_game_and_two_stays_openspiel():
    assert isinstance(make_game("liars_dice"), OpenSpielGame)
    g = make_game("liars_dice:players=3")
    assert isinstance(g, LiarsDice) and g.num_players == 3 and "There are 3 players" in g.describe()
    state = g.new_state(5)
    assert state.current_player == 0 and len(state.dice) == 3
    assert state.legal_actions()[0] == "1x1" and state.legal_actions()[-1] == "3x6" and "liar" not in state.legal_actions()
    with pytest.raises(UserError, match="players must be at least 2"):
        make_game("liars_dice:players=1")
    with pytest.raises(UserError, match="parameters: players, numdice"):
        make_game("liars_dice:dice_sides=4")


def test_three_players_take_turns_in_seat_order_and_each_sees_only_its_own_die():
    state = three(["2", "5", "1"], ["1x1", "1x4"])
    assert state.current_player == 2
    seen = state.observation(2)
    assert "Your dice: 1." in seen and "Player 0 bids 1x1, Player 1 bids 1x4" in seen and "5" not in seen.split("\n")[0]
    assert "Legal moves: 1x5, 1x6, 2x1" in seen and seen.endswith("liar")
    assert "Legal moves" not in state.observation(0)
    state.apply("2x2")
    assert state.current_player == 0
    with pytest.raises(InvalidAction, match="not a legal move"):
        state.apply("1x6")  # not higher than 2x2
    assert state.said == ["1x1", "1x4", "2x2"]


def test_three_player_liar_call_true_bid_the_caller_loses_false_bid_the_bidder_loses():
    # Dice 2, 6, 2: three dice count as twos (the six is wild), so 3x2 holds.
    holds = three(["2", "6", "2"], ["1x3", "3x2", "liar"])
    assert holds.is_terminal() and holds.current_player == -1
    assert holds.returns() == [0.5, 0.5, -1.0]  # seat 2 called a true bid
    false = three(["2", "6", "2"], ["1x3", "3x3", "liar"])  # only the six counts as a three
    assert false.returns() == [0.5, -1.0, 0.5]  # seat 1 bid it
    wrap = three(["1", "1", "1"], ["1x2", "1x3", "2x1", "liar"])  # seat 0 calls seat 2's true 2x1
    assert wrap.returns() == [-1.0, 0.5, 0.5] and sum(wrap.returns()) == 0.0
    assert "Player 0 calls liar" in wrap.render() and "Returns: [-1.0, 0.5, 0.5]" in wrap.render()


def test_after_the_highest_bid_only_liar_is_left_and_a_finished_game_refuses_moves():
    state = three(["6", "6", "6"], ["3x6"])
    assert state.legal_actions() == ["liar"]
    state.apply("liar")
    assert state.returns() == [0.5, -1.0, 0.5]  # three sixes: 3x6 holds, seat 1 called it
    with pytest.raises(InvalidAction, match="over"):
        state.apply("liar")


def test_native_clone_is_independent_and_a_seed_replays_the_deal():
    g = LiarsDice(3, numdice=2)
    assert g.new_state(7).dice == g.new_state(7).dice and all(len(d) == 2 for d in g.new_state(7).dice)
    state = g.new_state(7)
    copy = state.clone()
    copy.apply("1x1")
    assert state.said == [] and copy.said == ["1x1"]
    assert state.legal_actions()[-1] == "6x6"


def test_prior_reads_the_same_dice_on_both_implementations():
    osp = make_game("liars_dice")
    pstate = osp.pyspiel_game.new_initial_state()
    pstate.apply_action(4)  # a 5
    pstate.apply_action(0)
    pstate.apply_action(pstate.legal_actions()[0])  # 1x1
    mine = LiarsDiceState(LiarsDice(2), ["5", "1"], ["1x1"])
    assert prior(osp.wrap(pstate)) == pytest.approx(prior(mine))
    assert set(prior(three(["5", "1", "2"], ["1x1"]))) == set(three(["5", "1", "2"], ["1x1"]).legal_actions())


def test_openspiel_itself_stops_at_two_players():
    # Why the 3-seat game is native: if OpenSpiel ever grows N-player liar's dice, switch to it.
    with pytest.raises(pyspiel.SpielError):
        pyspiel.load_game("liars_dice", {"players": 3})
