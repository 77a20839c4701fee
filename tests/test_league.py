"""The league on its own: how a step's games are split, which seat the learner takes, who it faces."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sparring.config import OpponentSection
from sparring.games import make_game
from sparring.league import League, pfsp_weight, split_by_weight
from sparring.players import make_player
from sparring.rollout import GameRecord

TTT, KUHN = make_game("tic_tac_toe"), make_game("kuhn_poker")


def league(kind: str = "self", games=None, **options) -> League:
    games = games or [("tic_tac_toe", TTT, 1.0)]
    policy = make_player("random", TTT)
    opponents = {}

    def load(path: str):
        return opponents.setdefault(path, make_player("random", TTT, seed=len(opponents)))

    return League(OpponentSection(kind=kind, **options), games, policy, seed=7, pool_dir=None, load_opponent=load)


@pytest.mark.parametrize(
    ("total", "weights", "counts"),
    [
        (10, [1, 1], [5, 5]),
        (10, [2, 1, 1], [5, 3, 2]),  # 5, 2.5, 2.5: the tie goes to the first game
        (64, [1, 1, 1], [22, 21, 21]),
        (7, [3, 1], [5, 2]),  # 5.25, 1.75
        (3, [1, 1, 10], [1, 1, 1]),  # rounded down to none, each light game still gets one, the heavy one pays
        (5, [1, 100], [1, 4]),
        (2, [1, 1, 1], [1, 1, 1]),  # fewer games than the config has: one each, never a game left out
    ],
)
def test_split_by_weight_is_exact_proportional_and_leaves_no_game_out(total, weights, counts):
    assert split_by_weight(total, weights) == counts
    assert sum(counts) == max(total, len(weights))


def test_plan_deals_each_game_its_weighted_share_with_seeds_from_seed_and_step():
    mixed = league(games=[("tic_tac_toe", TTT, 3.0), ("kuhn_poker", KUHN, 1.0)])
    plan = mixed.plan(step=4, games_per_step=8)
    assert Counter(t.game.name for t in plan.tables) == {"tic_tac_toe": 6, "kuhn_poker": 2}
    assert plan.learner_seats == [[0, 1]] * 8 and plan.opponents == [None] * 8  # self-play: every seat learns
    assert all(t.players == [mixed.policy, mixed.policy] for t in plan.tables)
    again, other = mixed.plan(step=4, games_per_step=8), mixed.plan(step=5, games_per_step=8)
    assert [t.seed for t in again.tables] == [t.seed for t in plan.tables]  # a resumed run deals the same games
    assert [t.seed for t in other.tables] != [t.seed for t in plan.tables]
    assert len({t.seed for t in plan.tables}) == 8


@pytest.mark.parametrize("games_per_step", [1, 2, 3, 5])
def test_against_a_fixed_player_the_learner_takes_both_seats_equally(games_per_step):
    fixed = league("fixed", fixed="minimax")
    seats = Counter()
    for step in range(12):
        plan = fixed.plan(step, games_per_step)
        for table, learner in zip(plan.tables, plan.learner_seats, strict=True):
            (seat,) = learner
            assert table.players[seat] is fixed.policy and table.players[1 - seat] is not fixed.policy
            assert table.seating == [0 if s == seat else 1 for s in range(2)]
            seats[seat] += 1
    # Twelve steps: each seat exactly half the games, however many games a step holds (one a step included).
    assert seats[0] == seats[1] == 6 * games_per_step


def test_learner_seats_keep_the_learner_in_the_named_seats_only():
    solver_only = league("fixed", fixed="minimax", learner_seats=[1])
    for step in range(6):
        plan = solver_only.plan(step, 3)
        assert plan.learner_seats == [[1]] * 3
        assert all(t.players[1] is solver_only.policy and t.players[0] is not solver_only.policy for t in plan.tables)
    both = league("fixed", fixed="minimax", learner_seats=[1, 0])  # listed in turn, in the order given
    assert [seats for step in range(2) for seats in both.plan(step, 2).learner_seats] == [[1], [0], [0], [1]]
    # In self-play (and a pool's self-play share) the policy plays every seat but learns from the listed ones.
    self_play = league("self", learner_seats=[1]).plan(0, 3)
    assert self_play.learner_seats == [[1]] * 3 and all(t.players == [t.players[0]] * 2 for t in self_play.tables)


def test_learner_seats_outside_the_game_are_refused():
    from sparring.config import load_config
    from sparring.errors import UserError
    from sparring.preflight import check_startable

    overrides = ["opponent.kind=fixed", "opponent.fixed=random", "opponent.learner_seats=[2]"]
    with pytest.raises(UserError, match="tic_tac_toe has seats 0-1"):
        check_startable(load_config("spiral-tictactoe", overrides))
    check_startable(load_config("spiral-tictactoe", ["opponent.learner_seats=[1]"]))  # self-play: allowed
    with pytest.raises(ValueError, match="distinct seat numbers"):
        OpponentSection(kind="fixed", fixed="random", learner_seats=[1, 1])


def test_pfsp_weight_prefers_the_snapshots_the_learner_loses_to():
    assert pfsp_weight(0.0) == pytest.approx(1.001)
    assert pfsp_weight(0.5) == pytest.approx(0.251)
    assert pfsp_weight(1.0) == pytest.approx(0.001)  # beaten snapshots are still drawn, rarely


def with_pool(sampling: str, scores: list[float]) -> League:
    pool = league("pool", sampling=sampling, self_play_share=0.0)
    pool.load_state_dict({"pool": [{"step": k, "path": f"step-{k}", "score": p, "games": 0} for k, p in enumerate(scores)]})
    return pool


def faced(lg: League, steps: int = 400) -> Counter:
    return Counter(path for step in range(steps) for path in lg.plan(step, 4).opponents)


def test_pfsp_draws_opponents_in_proportion_to_their_weights():
    scores = [0.0, 0.5, 1.0]
    counts = faced(with_pool("pfsp", scores))
    total = sum(counts.values())
    weights = [pfsp_weight(p) for p in scores]
    for k, w in enumerate(weights):
        assert counts[f"step-{k}"] / total == pytest.approx(w / sum(weights), abs=0.03)
    uniform = faced(with_pool("uniform", scores))
    assert all(abs(n / total - 1 / 3) < 0.04 for n in uniform.values())


def test_self_play_share_keeps_that_share_of_games_in_pure_self_play():
    mixed = with_pool("uniform", [0.5])
    mixed.config = OpponentSection(kind="pool", self_play_share=0.25)
    opponents = [path for step in range(200) for path in mixed.plan(step, 4).opponents]
    assert opponents.count(None) / len(opponents) == pytest.approx(0.25, abs=0.04)
    assert with_pool("uniform", []).plan(0, 4).opponents == [None] * 4  # an empty pool: self-play


def test_a_fixed_player_with_a_fixed_self_play_share_is_a_league_of_two():
    def self_play_tables(lg: League) -> float:
        tables = [t for step in range(200) for t in lg.plan(step, 4).tables]
        return sum(t.players == [lg.policy, lg.policy] for t in tables) / len(tables)

    assert self_play_tables(league("fixed", fixed="minimax")) == 0.0  # the default: every game against it
    # A run config saved before fixed_self_play_share existed holds the pool's self_play_share 0.5: it must
    # resume against the fixed player in every game, as it began.
    assert self_play_tables(league("fixed", fixed="minimax", self_play_share=0.5)) == 0.0
    mixed = league("fixed", fixed="minimax", fixed_self_play_share=0.3)
    assert self_play_tables(mixed) == pytest.approx(0.3, abs=0.04)
    plan = mixed.plan(3, 16)
    for table, seats in zip(plan.tables, plan.learner_seats, strict=True):
        learner = [s for s, p in enumerate(table.players) if p is mixed.policy]
        assert seats == learner  # self-play tables learn from both seats, the others from the learner's one
    # Against a fixed player at share 0 the deal is what it was before the share existed: no extra draws.
    plain, zero = league("fixed", fixed="minimax"), league("fixed", fixed="minimax", fixed_self_play_share=0.0)
    assert [t.seed for t in plain.plan(5, 8).tables] == [t.seed for t in zero.plan(5, 8).tables]


def test_record_moves_each_snapshots_score_toward_the_learners_results():
    pool = with_pool("uniform", [0.5, 0.5])
    plan = pool.plan(0, 4)
    # The learner wins every game: each faced snapshot's score moves 10% of the way to 1 per game.
    records = []
    for seats in plan.learner_seats:
        returns = [-1.0, -1.0]
        returns[seats[0]] = 1.0
        records.append(GameRecord("tic_tac_toe", 0, [0, 1], returns))
    pool.record(plan, records)
    for entry in pool.pool:
        n = plan.opponents.count(entry.path)
        assert entry.games == n and entry.score == pytest.approx(1 - 0.5 * 0.9**n)


def test_snapshots_beyond_pool_size_are_dropped_with_their_directory(tmp_path: Path):
    pool = league("pool", pool_size=2)
    pool.pool_dir = tmp_path / "pool"

    def save(directory: Path) -> None:
        directory.mkdir(parents=True)
        (directory / "weights").write_text(directory.name)

    for step in (10, 20, 30):
        pool.add_snapshot(step, save)
    assert [e.step for e in pool.pool] == [20, 30]
    assert sorted(p.name for p in pool.pool_dir.iterdir()) == ["step-20", "step-30"]
    assert (pool.pool_dir / "step-30" / "weights").read_text() == ".tmp-step-30"  # written aside, then renamed
    restored = league("pool", pool_size=2)
    restored.load_state_dict(pool.state_dict())
    assert [(e.step, e.path, e.score) for e in restored.pool] == [(e.step, e.path, e.score) for e in pool.pool]
