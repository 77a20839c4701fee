"""Who is the spy: the lists, the two rounds, secret votes, the payoffs, the prior and the recipe."""

from __future__ import annotations

import pytest

from sparring.errors import UserError
from sparring.games import InvalidAction, make_game
from sparring.games.spy import POOL, SpyState, prior


def described(players: int = 3, seed: int = 0) -> SpyState:
    """A game after its description round: every seat named its first item."""
    state = make_game(f"spy:players={players}").new_state(seed)
    for seat in range(players):
        state.apply(state.items[seat][0])
    return state


def voted(state: SpyState, votes: list[int]) -> SpyState:
    state = state.clone()
    for v in votes:
        state.apply(f"seat {v}")
    return state


@pytest.mark.parametrize("players", [3, 4])
def test_non_spies_share_one_list_and_the_spy_s_differs_in_exactly_one_item(players):
    spies, positions = set(), set()
    for seed in range(40):
        state = make_game(f"spy:players={players}").new_state(seed)
        others = [state.items[p] for p in range(players) if p != state.spy]
        assert all(items == others[0] for items in others) and len(set(others[0])) == 3
        diff = [k for k in range(3) if state.items[state.spy][k] != others[0][k]]
        assert len(diff) == 1 and state.items[state.spy][diff[0]] not in others[0]
        assert set(state.items[state.spy]) | set(others[0]) <= set(POOL)
        spies.add(state.spy)
        positions.add(diff[0])
    assert spies == set(range(players)) and positions == {0, 1, 2}  # both drawn from the seed


def test_the_same_seed_deals_the_same_game_and_seeds_differ():
    game = make_game("spy")
    a, b = game.new_state(5), game.new_state(5)
    assert (a.items, a.spy) == (b.items, b.spy)
    assert len({repr((game.new_state(s).items, game.new_state(s).spy)) for s in range(20)}) > 10


def test_a_description_must_be_one_of_one_s_own_items_and_each_seat_sees_only_its_own_list():
    state = make_game("spy").new_state(2)
    spy_item = next(i for i in state.items[state.spy] if i not in state.items[(state.spy + 1) % 3])
    honest = (state.spy + 1) % 3
    assert spy_item in state.observation(state.spy) and spy_item not in state.observation(honest)
    assert "spy" not in state.observation(state.spy).split("\n")[0]  # nobody is told its role
    while state.current_player != honest:
        state.apply(state.legal_actions()[0])
    before = state.render()
    with pytest.raises(InvalidAction, match="not a legal move"):
        state.apply(spy_item)  # the spy's odd item is not in a non-spy's list
    with pytest.raises(InvalidAction, match="not a legal move"):
        state.apply("seat 0")  # no voting during the description round
    assert state.render() == before and state.legal_actions() == state.items[honest]
    state.apply(state.items[honest][2].upper())  # matched without case
    assert state.descriptions[-1] == state.items[honest][2]


def test_a_vote_must_name_another_existing_seat():
    state = described()
    assert state.current_player == 0 and state.legal_actions() == ["seat 1", "seat 2"]
    with pytest.raises(InvalidAction, match="cannot vote for yourself"):
        state.apply(" Seat 0 ")
    with pytest.raises(InvalidAction, match="not a legal move"):
        state.apply("seat 3")
    assert state.votes == [] and state.current_player == 0
    state.apply("seat 2")
    assert state.votes == [2] and state.current_player == 1 and state.legal_actions() == ["seat 0", "seat 2"]


@pytest.mark.parametrize("seed", range(6))
def test_caught_spy_loses_n_minus_one_to_everyone_else_and_a_missed_or_tied_vote_pays_the_spy(seed):
    for players in (3, 4):
        state = described(players, seed)
        spy, n = state.spy, players
        innocent = (spy + 1) % n
        # everyone votes the spy (the spy votes the innocent seat)
        caught = voted(state, [innocent if p == spy else spy for p in range(n)])
        assert caught.is_terminal() and caught.accused() == spy
        assert caught.returns() == [-(n - 1.0) if p == spy else 1.0 for p in range(n)]
        # everyone votes the innocent seat (which votes the spy: still one vote against the spy at most)
        missed = voted(state, [spy if p == innocent else innocent for p in range(n)])
        assert missed.accused() == innocent
        assert missed.returns() == [n - 1.0 if p == spy else -1.0 for p in range(n)]
        # each seat votes the next: every seat has one vote, a tie for the most, nobody accused
        tie = voted(state, [(p + 1) % n for p in range(n)])
        assert tie.accused() is None and tie.returns() == missed.returns()
        for end in (caught, missed, tie):
            assert sum(end.returns()) == 0.0 and end.current_player == -1
            assert f"the spy was seat {spy}" in end.render()


def test_a_two_two_split_in_four_seats_accuses_nobody():
    state = described(4, 1)
    spy = state.spy
    a, b = (spy + 1) % 4, (spy + 2) % 4
    # two votes on the spy, two on seat a: a tie for the most, so the spy escapes
    votes = {spy: a, a: spy, b: spy, (spy + 3) % 4: a}
    end = voted(state, [votes[p] for p in range(4)])
    assert end.accused() is None and end.returns()[spy] == 3.0


def test_votes_stay_secret_from_later_voters_and_everyone_sees_every_description():
    state = described(3, 4)
    assert all(f"seat {p} named {state.items[p][0]}" in state.observation(q) for p in range(3) for q in range(3))
    one, two = voted(state, [1]), voted(state, [2])
    assert one.observation(1) == two.observation(1) and one.observation(2) == two.observation(2)
    assert "You voted for seat 1." in one.observation(0) and one.observation(0) != two.observation(0)
    assert "Vote for the seat" in one.observation(1) and "Legal moves: seat 0, seat 2" in one.observation(1)
    assert "seat 0 -> seat 1" in one.render()


def test_unsupported_seat_counts_are_one_clear_error():
    for bad in (2, 5):
        with pytest.raises(UserError, match=f"players must be 3 or 4, got {bad}"):
            make_game(f"spy:players={bad}")
    assert make_game("spy:players=4").num_players == 4 and "the spy -3" in make_game("spy:players=4").describe()


def test_the_prior_describes_uniformly_and_leans_toward_seats_that_named_an_item_one_does_not_hold():
    state = make_game("spy").new_state(0)
    assert state.spy == 2 and prior(state) == {item: pytest.approx(1 / 3) for item in state.items[0]}
    odd = next(i for i in state.items[2] if i not in state.items[0])
    plain = state.clone()
    for seat in range(3):
        state.apply(odd if seat == 2 else state.items[2][state.items[2].index(odd) - 1])  # shared by all three
        plain.apply(plain.items[2][plain.items[2].index(odd) - 1])
    # seat 0 holds everything named but the spy's odd item: 40% on seat 2, the other 60% split over both seats
    assert prior(state) == {"seat 1": pytest.approx(0.3), "seat 2": pytest.approx(0.7)}
    assert prior(plain) == {"seat 1": pytest.approx(0.5), "seat 2": pytest.approx(0.5)}  # no clue: uniform


def test_the_recipe_trains_end_to_end_from_the_command_line(tmp_path, capsys):
    from tiny_runs import TINY_RUN

    from sparring.checkpoint import RunDir
    from sparring.cli import main

    run_dir = tmp_path / "run"
    code = main(["train", "spy", *TINY_RUN, "max_steps=1", "--run-dir", str(run_dir)])
    assert code in (0, None), capsys.readouterr().err
    last = RunDir(run_dir).read_metrics()[-1]
    assert last["step"] == 1 and "train/spy/return/seat0" in last
