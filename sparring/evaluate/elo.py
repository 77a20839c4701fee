"""Elo ratings from a round robin: expected score, maximum-likelihood fit, bootstrap intervals.

The model is Bradley-Terry on the Elo scale: player i scores against player j
on average ``E = 1 / (1 + 10 ** ((r_j - r_i) / 400))``. A draw counts as half
a win for each side, so a game's score is 1, 0.5 or 0. The ratings are the
maximum-likelihood fit of every game at once (not the order-dependent online
Elo update), so a league's table does not depend on which games came first.

Elo is pairwise. A game of three or more seats counts as one result between
every two of its seats, ranked by return (1, 0.5 or 0: see
``sparring.games.base.pairwise_scores``); the league plays every group of N
players. Those results share a game and are not independent, so the
bootstrap intervals below are somewhat too narrow for N-seat leagues.

Ratings are relative; one number must be pinned. We pin ``anchor`` (the league
pins ``random``: a player whose strength never changes, so 1000 means "as good
as uniformly random play" in every league of every run) at 1000, or, with no
anchor, the mean rating at 1000.

A player who won (or lost) every game has no finite maximum-likelihood rating.
``prior_draws`` adds that many virtual drawn games to every pair that met: a
small Bayesian shrinkage toward "equal" (as BayesElo does) that keeps every
rating finite. With ``prior_draws=0`` the fit is plain maximum likelihood and
refuses data where it does not exist.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ELO_SCALE = 400.0 / math.log(10.0)
"""Elo points per unit of natural log-odds: a 400-point gap is 10:1 odds."""
BASE = 1000.0


@dataclass(frozen=True)
class Outcome:
    """One game between two players: ``score`` is what ``a`` got (1 win, 0.5 draw, 0 loss); ``b`` got the rest."""

    a: str
    b: str
    score: float


def expected_score(rating_a: float, rating_b: float) -> float:
    """The score ``a`` expects against ``b`` (Elo's logistic curve)."""
    return 1.0 / (1.0 + 10.0 ** ((rating_b - rating_a) / 400.0))


def _players(outcomes: Sequence[Outcome], players: Sequence[str] | None) -> list[str]:
    names = list(players) if players is not None else []
    for o in outcomes:
        for name in (o.a, o.b):
            if name not in names:
                names.append(name)
    return names


def _tables(outcomes: Sequence[Outcome], index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """``n[i, j]`` games between i and j (symmetric) and ``w[i, j]`` the score i got in them."""
    k = len(index)
    n, w = np.zeros((k, k)), np.zeros((k, k))
    for o in outcomes:
        if o.a == o.b:
            raise ValueError(f"a player cannot play itself: {o}")
        if not 0.0 <= o.score <= 1.0:
            raise ValueError(f"a score is between 0 and 1: {o}")
        i, j = index[o.a], index[o.b]
        n[i, j] += 1
        n[j, i] += 1
        w[i, j] += o.score
        w[j, i] += 1.0 - o.score
    return n, w


def _reachable(edges: np.ndarray) -> set[int]:
    """Nodes reachable from node 0 along ``edges[i, j] > 0``."""
    seen, todo = {0}, [0]
    while todo:
        i = todo.pop()
        for j in np.nonzero(edges[i] > 0)[0]:
            if int(j) not in seen:
                seen.add(int(j))
                todo.append(int(j))
    return seen


def _check_identifiable(n: np.ndarray, w: np.ndarray, names: list[str]) -> None:
    """Raise unless a finite maximum-likelihood fit exists and is unique.

    Unique needs every player connected by games; finite needs, in addition,
    that the "scored something against" graph is strongly connected (Ford,
    1957): otherwise some group beat everyone outside it in every game and
    the likelihood grows without bound as the gap grows.
    """
    k = len(names)
    if len(_reachable(n)) < k:
        missing = [names[i] for i in range(k) if i not in _reachable(n)]
        raise ValueError(f"players {missing} are not connected by games to {names[0]}; their ratings are undetermined")
    if len(_reachable(w)) < k or len(_reachable(w.T)) < k:
        totals = w.sum(1) / np.maximum(n.sum(1), 1)
        extreme = [names[i] for i in range(k) if totals[i] in (0.0, 1.0)]
        who = f" ({', '.join(extreme)} won or lost every game)" if extreme else ""
        raise ValueError(f"no finite maximum-likelihood ratings{who}; use prior_draws > 0")


def _log_likelihood(theta: np.ndarray, w: np.ndarray) -> float:
    d = theta[:, None] - theta[None, :]
    return float(-(w * np.logaddexp(0.0, -d)).sum())


def _fit_theta(n: np.ndarray, w: np.ndarray, tol: float = 1e-10, max_iter: int = 200) -> np.ndarray:
    """Maximise the Bradley-Terry log-likelihood by Newton's method with step halving (it is concave).

    Player 0 is held at 0; the returned strengths are natural log-odds.
    """
    k = len(n)
    theta = np.zeros(k)
    if k == 1:
        return theta
    current = _log_likelihood(theta, w)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))  # p[i, j]: chance i beats j
        grad = (w - n * p).sum(axis=1)
        c = n * p * p.T
        info = np.diag(c.sum(axis=1)) - c  # observed information (minus the Hessian)
        step = np.zeros(k)
        step[1:] = np.linalg.solve(info[1:, 1:], grad[1:])
        scale = 1.0
        while True:
            trial = theta + scale * step
            value = _log_likelihood(trial, w)
            if value >= current - 1e-12 or scale < 1e-8:
                break
            scale /= 2
        theta, current = trial, value
        if np.max(np.abs(scale * step)) < tol:
            break
    return theta


def _anchored(theta: np.ndarray, names: list[str], anchor: str | None, base: float) -> dict[str, float]:
    ratings = ELO_SCALE * theta
    shift = base - (ratings[names.index(anchor)] if anchor is not None else ratings.mean())
    return {name: float(r + shift) for name, r in zip(names, ratings, strict=True)}


def _with_prior(n: np.ndarray, w: np.ndarray, prior_draws: float) -> tuple[np.ndarray, np.ndarray]:
    met = (n > 0).astype(float)
    return n + prior_draws * met, w + 0.5 * prior_draws * met


def fit_elo(
    outcomes: Sequence[Outcome],
    players: Sequence[str] | None = None,
    anchor: str | None = None,
    prior_draws: float = 0.0,
    base: float = BASE,
) -> dict[str, float]:
    """Maximum-likelihood Elo ratings of every player from all games at once.

    ``anchor`` is pinned at ``base`` (or, when None, the mean rating is).
    ``players`` fixes the order of the result (and may name players whose
    games are all in ``outcomes`` anyway); see the module notes on ``prior_draws``.
    """
    names = _players(outcomes, players)
    if anchor is not None and anchor not in names:
        raise ValueError(f"anchor {anchor!r} played no games; players: {names}")
    if prior_draws < 0:
        raise ValueError("prior_draws must be >= 0")
    n, w = _with_prior(*_tables(outcomes, {p: i for i, p in enumerate(names)}), prior_draws)
    _check_identifiable(n, w, names)
    return _anchored(_fit_theta(n, w), names, anchor, base)


def bootstrap_elo(
    outcomes: Sequence[Outcome],
    players: Sequence[str] | None = None,
    anchor: str | None = None,
    prior_draws: float = 0.0,
    samples: int = 200,
    level: float = 0.95,
    seed: int = 0,
    base: float = BASE,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of each rating over ``samples`` refits to resampled games.

    Games are resampled with replacement within each pair, keeping each
    pair's number of games: in a round robin that number is fixed by the
    schedule, and only the results are random. The anchor's interval is
    a point (it is pinned); the others' widths say how sure the ratings are
    relative to it.
    """
    names = _players(outcomes, players)
    index = {p: i for i, p in enumerate(names)}
    by_pair: dict[tuple[int, int], list[float]] = defaultdict(list)
    for o in outcomes:
        i, j = index[o.a], index[o.b]
        by_pair[(min(i, j), max(i, j))].append(o.score if i < j else 1.0 - o.score)
    rng = np.random.default_rng(seed)
    k = len(names)
    fits = np.zeros((samples, k))
    for s in range(samples):
        n, w = np.zeros((k, k)), np.zeros((k, k))
        for (i, j), scores in by_pair.items():
            drawn = rng.choice(np.asarray(scores), size=len(scores), replace=True).sum()
            n[i, j] = n[j, i] = len(scores)
            w[i, j], w[j, i] = drawn, len(scores) - drawn
        n, w = _with_prior(n, w, prior_draws)
        _check_identifiable(n, w, names)
        ratings = _anchored(_fit_theta(n, w), names, anchor, base)
        fits[s] = [ratings[p] for p in names]
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(fits, tail, axis=0), np.percentile(fits, 100 - tail, axis=0)
    return {p: (float(low[i]), float(high[i])) for i, p in enumerate(names)}


def score_matrix(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    """``matrix[a][b]``: a's mean score against b (so ``matrix[a][b] + matrix[b][a] == 1``)."""
    total: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for o in outcomes:
        total[o.a][o.b].append(o.score)
        total[o.b][o.a].append(1.0 - o.score)
    return {a: {b: sum(s) / len(s) for b, s in row.items()} for a, row in total.items()}


def player_totals(outcomes: Sequence[Outcome]) -> dict[str, tuple[int, float]]:
    """Per player: games played and mean score over all of them."""
    games: dict[str, list[float]] = defaultdict(list)
    for o in outcomes:
        games[o.a].append(o.score)
        games[o.b].append(1.0 - o.score)
    return {p: (len(s), sum(s) / len(s)) for p, s in games.items()}
