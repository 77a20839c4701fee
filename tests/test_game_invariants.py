"""Invariants every registered game must keep (OpenSpiel's random-sim test, for our protocol)."""

from __future__ import annotations

import math
import random
import re
from typing import Any

import pytest
from conftest import AVAILABLE, VARIANTS

from sparring.games import TERMINAL, InvalidAction, game_entry, make_game
from sparring.games.kuhn_poker import KuhnSeriesState
from sparring.games.liars_dice import LiarsDiceState
from sparring.games.openspiel import OpenSpielState
from sparring.games.propose_solve import ProposeSolveState
from sparring.games.qrv import QRVState
from sparring.games.red_team import RedTeamState
from sparring.games.rendezvous import RendezvousState
from sparring.games.sneaky_critic import SneakyCriticState
from sparring.games.spy import SpyState
from sparring.players.random_player import moves_for
from sparring.specs import parse_spec

SEEDS = range(12)


def random_game(spec: str, seed: int, limit: int = 500):
    """Play random moves; return the transcript (mover, move, observation) and the final state."""
    game = make_game(spec)
    state = game.new_state(seed)
    rng = random.Random(seed)
    transcript = []
    while not state.is_terminal():
        assert len(transcript) < limit, f"{spec} did not end within {limit} random moves"
        player = state.current_player
        move = rng.choice(moves_for(state))
        transcript.append((player, move, state.observation(player)))
        state.apply(move)
    return transcript, state


def test_random_play_terminates_with_finite_returns(game_spec):
    entry = game_entry(parse_spec(game_spec).name)
    for seed in SEEDS:
        _, state = random_game(game_spec, seed)
        returns = state.returns()
        assert state.current_player == TERMINAL
        assert len(returns) == make_game(game_spec).num_players  # the entry's count is the default's
        assert all(math.isfinite(r) for r in returns)
        if entry.zero_sum:
            assert sum(returns) == pytest.approx(0.0)


def test_same_seed_replays_the_same_game(game_spec):
    for seed in (0, 5):
        first, end1 = random_game(game_spec, seed)
        second, end2 = random_game(game_spec, seed)
        assert first == second
        assert end1.returns() == end2.returns()


def test_different_seeds_differ_for_games_with_chance():
    deals = {random_game("kuhn_poker", seed)[1].render().splitlines()[0] for seed in range(20)}
    assert len(deals) > 1


def test_every_offered_move_is_accepted_and_listed_in_the_observation(game_spec):
    game = make_game(game_spec)
    for seed in SEEDS:
        state = game.new_state(seed)
        rng = random.Random(seed)
        while not state.is_terminal():
            legal = state.legal_actions()
            player = state.current_player
            if legal is not None:
                assert legal, "a non-terminal state must offer at least one move"
                assert len(set(legal)) == len(legal), "move names must be unique"
                obs = state.observation(player)
                assert all(move in obs for move in legal), "the observation must list the exact legal moves"
                other = (player + 1) % game.num_players
                assert state.legal_actions(other) == []
            for move in moves_for(state):
                state.clone().apply(move)  # must not raise
            state.apply(rng.choice(moves_for(state)))


def test_illegal_move_raises_with_reason_and_leaves_state_unchanged(game_spec):
    game = make_game(game_spec)
    state = game.new_state(3)
    rng = random.Random(3)
    for _ in range(3):
        if state.is_terminal():
            break
        player = state.current_player
        before = (state.render(), state.observation(player), state.current_player)
        bad = "definitely-not-a-move" if state.legal_actions() is not None else refused_free_text(state)
        with pytest.raises(InvalidAction) as err:
            state.apply(bad)
        assert err.value.reason
        assert (state.render(), state.observation(player), state.current_player) == before
        state.apply(rng.choice(moves_for(state)))


def refused_free_text(state: Any) -> str:
    """A turn a free-text game refuses: a negotiation offer of a resource nobody has, or (for a game that takes
    any short text, such as red_team's requests) a turn far past every length limit, or (rendezvous, whose
    messages are any 1 to 12 words) an empty one."""
    for candidate in ("[Offer: 5 Unicorn -> 1 Gold]", "x" * 5000, "   "):
        try:
            state.clone().apply(candidate)
        except InvalidAction:
            return candidate
    raise AssertionError("a free-text turn must refuse something: not a bogus offer, 5,000 characters or blank")


def test_terminal_state_refuses_moves(game_spec):
    _, state = random_game(game_spec, 1)
    with pytest.raises(InvalidAction):
        state.apply("anything")


def test_clone_is_independent(game_spec):
    game = make_game(game_spec)
    state = game.new_state(7)
    rng = random.Random(7)
    state.apply(rng.choice(moves_for(state)))
    if state.is_terminal():
        return
    snapshot = (state.render(), [state.observation(p) for p in range(game.num_players)], state.current_player)
    copy = state.clone()
    while not copy.is_terminal():
        copy.apply(rng.choice(moves_for(copy)))
    assert (state.render(), [state.observation(p) for p in range(game.num_players)], state.current_player) == snapshot
    # The clone carries the RNG too: both continue identically from here.
    a, b = state.clone(), state.clone()
    ra, rb = random.Random(1), random.Random(1)
    while not a.is_terminal():
        a.apply(ra.choice(moves_for(a)))
        b.apply(rb.choice(moves_for(b)))
    assert a.render() == b.render() and a.returns() == b.returns()


def information_state(state: Any, player: int) -> str:
    """``player``'s information state, by OpenSpiel's ``information_state_string`` of the underlying game.

    Leduc's card ids carry a suit the rules ignore, so they are folded to ranks. A Kuhn series is
    the current hand's information state plus what the finished hands showed this player: its own
    cards, the opponent's at a showdown, the public betting and the chips.
    """
    if isinstance(state, OpenSpielState):
        text = state.pstate.information_state_string(player)
        if state.game.openspiel_name == "leduc_poker":
            text = re.sub(r"\[(Private|Public): (\d+)\]", lambda m: f"[{m[1]}: rank {int(m[2]) // 2}]", text)
        return text
    if isinstance(state, KuhnSeriesState):
        past = [(r.cards[player], r.cards[1 - player] if r.showdown else None, r.betting, r.net) for r in state.results]
        hand = state.pstate.information_state_string(state.seat_of.index(player))
        return repr((past, state.seat_of, hand))
    if isinstance(state, LiarsDiceState):  # N-seat liar's dice: own dice and every bid (OpenSpiel's, for 2 seats)
        return repr((state.dice[player], state.said))
    if isinstance(state, RendezvousState):  # own half, both messages, own answer, and whether it is one's turn
        return repr((state.secret(player), state.messages, state.answers[player : player + 1], state.current_player == player))
    if isinstance(state, SpyState):  # own list, every description, own vote once cast (never others'), whose turn
        return repr((state.items[player], state.descriptions, state.votes[player : player + 1], state.current_player == player))
    if isinstance(state, ProposeSolveState):
        # The solver never sees the proposal as written (an arith proposal states its answer) nor its own earlier
        # attempts (they are independent tries); the proposer sees its example tasks until it proposes, then its
        # proposal and the solver's tally.
        if player == 1:
            return repr((state.task and state.task.problem, state.task and state.task.invalid))
        shown = state.examples if state.task is None else None
        return repr((shown, state.proposal, state.task and state.task.invalid, len(state.answers), state.solved()))
    if isinstance(state, SneakyCriticState):
        # The critic sees the problem and the solution as shown, never whether (or which) step was rewritten;
        # the sneaky player sees the correct solution, whether the game is clean, its example rewrites until it
        # rewrites, and its own rewrite.
        if player == 1:
            waiting = state.rewrite is None and not state.clean
            return repr((state.problem(), None if waiting else state.lines(state.shown())))
        rewrite = state.rewrite and state.rewrite.text(state.altered)
        shown = state.examples if state.rewrite is None and not state.clean else None
        return repr((state.problem(), state.clean, shown, rewrite, state.not_wrong))
    if isinstance(state, RedTeamState):
        # The attacker sees the task and its own request, never the secret; the defender sees all three.
        return repr((state.task, state.request) if player == 0 else (state.secret, state.task, state.request))
    if isinstance(state, QRVState):
        # The responder sees the document and the question, never the reference answer nor its earlier attempts;
        # the questioner sees its example questions until it asks.
        if player == 1:
            return repr((state.document, state.question and state.question.text, state.question and state.question.invalid))
        shown = state.examples if state.question is None else None
        question = state.question and state.question.invalid
        return repr((state.document, shown, state.proposal, question, len(state.answers), state.right()))
    raise NotImplementedError(f"no information-state reference for {type(state).__name__}: add one here")


HIDDEN = [
    spec
    for spec in AVAILABLE + VARIANTS
    if not game_entry(parse_spec(spec).name).perfect_information
    and game_entry(parse_spec(spec).name).source != "textarena"
    and "family=code" not in spec  # 300 games of sandbox runs; its observations are arith's code path
]
"""Every game with hidden information that has an OpenSpiel reference. TextArena games are left out: a seat's
text there is TextArena's own per-player message queue, and no independent information state exists to compare."""


@pytest.mark.parametrize("spec", HIDDEN)
def test_observation_text_is_a_function_of_the_information_state_and_tells_them_apart(spec):
    """Same information state -> same text (nothing hidden leaks); different -> different (nothing known is lost)."""
    text_of: dict[tuple[int, str], str] = {}
    state_of: dict[str, tuple[int, str]] = {}
    for seed in range(300):
        game = make_game(spec)
        state, rng = game.new_state(seed), random.Random(seed)
        while not state.is_terminal():
            for player in range(game.num_players):
                info, text = (player, information_state(state, player)), state.observation(player)
                assert text_of.setdefault(info, text) == text, f"{spec}: one information state, two texts: {info}"
                assert state_of.setdefault(text, info) == info, f"{spec}: one text for {state_of[text]} and {info}"
            state.apply(rng.choice(moves_for(state)))
    # enough distinct information states for the check to mean something (tiny_hanabi has 16 in all)
    assert len(text_of) > (12 if spec == "tiny_hanabi" else 20)


AUTHORING = ["propose_solve", "propose_solve:family=code", "sneaky_critic:clean=0.0", "qrv"]


@pytest.mark.parametrize("spec", AUTHORING)
def test_an_authoring_turn_shows_its_examples_valid_and_invalid_in_varying_order(spec):
    """Seat 0 writes a task; its prompt lists the prior's examples (copying one is always well-formed),
    never marked, with the invalid one in no fixed place; show_examples=false hides them."""
    places = set()
    for seed in range(40):
        state = make_game(spec).new_state(seed)
        obs = state.observation(0)
        shown = [line[3:-1] for line in obs.splitlines() if line.startswith('- "')]
        assert shown == state.example_actions()
        assert "not all of them valid" in obs
        places.add(next(i for i, (_, good) in enumerate(state.examples) if not good) / len(shown))
        for text in shown:
            state.clone().apply(text)  # each example is well-formed
        hidden = make_game(f"{spec}{',' if ':' in spec else ':'}show_examples=false").new_state(seed)
        assert not any(line.startswith("- ") for line in hidden.observation(0).splitlines())
    assert len(places) > 2, "the invalid example must not always sit in the same place"
