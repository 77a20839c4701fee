"""Advantage estimators: where a turn's reward becomes the number the policy gradient multiplies.

    TurnSample[] (reward filled)  ->  estimate(name, ...)  ->  TurnSample[] (advantage filled)  ->  learner

Every estimator takes the samples of ONE training step (several games may be
mixed, e.g. tic_tac_toe and kuhn_poker in one batch), writes
``sample.advantage`` IN PLACE and returns the same list, so a call reads as
``samples = estimate("rae", samples, baselines)`` and nothing is copied. Only
``drop_zero_advantage`` builds a new (shorter) list; it never changes a sample.

Two rules hold throughout:

- Statistics are keyed by (game, role): a tic-tac-toe return says nothing
  about what to expect in Kuhn poker, and the first mover's expected return is
  not the second mover's.
- Where an estimator needs "the mean return", it is the mean over GAMES, not
  over turns: with gamma = 1 each of a seat's turns carries the same return, so
  a turn-weighted mean would count a 5-turn game five times and a 1-turn game
  once. One game contributes one value per seat: its final-turn reward, which
  is the game's (undiscounted) return to that seat.

Estimators (``ESTIMATORS``): ``rae`` (SPIRAL, the default), ``grpo``,
``reinforce`` and ``mars`` (MARS's turn-level pipeline). See
shared/reference/self-play-algorithms.md, sections A4, A5, B2, B3.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from array import array
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from statistics import fmean
from typing import Any, Literal

from sparring.samples import TurnSample

Key = tuple[str, int]
"""(game, role): the unit a baseline or a group is kept for."""

ObsKey = tuple[str, str]
"""(game, ``obs:<digest of the prompt ids>``): one observation, as the model read it; (game,
``ans:<role>:<digest of the response ids>``): one answer of one role, whatever the observation."""

WHITEN_EPS = 1e-8
"""Added to the variance before the square root when whitening (MARS / ROLL's value)."""


class RoleBaselines:
    """Per-(game, role) EMA of the return: SPIRAL's role-conditioned baseline (RAE), kept across steps.

    SPIRAL keeps one EMA per role because each of its runs trains one game; keying
    by (game, role) makes multi-game batches correct (two games with different
    typical returns never share a baseline). Unseen keys start at ``init``.
    """

    def __init__(self, rate: float = 0.95, init: float = 0.0) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"baseline rate must be in [0, 1], got {rate}")
        self.rate = rate
        """Weight kept by the old value on each update: b <- rate*b + (1 - rate)*x."""
        self.init = init
        """Value of a baseline never updated (SPIRAL: 0.0)."""
        self.values: dict[Key, float] = {}

    def get(self, game: str, role: int | str) -> float:
        return self.values.get((game, role), self.init)

    def known(self, game: str, role: int | str) -> bool:
        return (game, role) in self.values

    def roles(self) -> dict[str, float]:
        """The per-role values only (observation baselines can number thousands): what metrics show."""
        return {f"{game}/{role}": value for (game, role), value in sorted(self.values.items(), key=str) if isinstance(role, int)}

    def update(self, game: str, role: int | str, value: float, rate: float | None = None) -> float:
        """Move the baseline towards ``value``; returns the new baseline. ``rate`` overrides the store's rate."""
        r = self.rate if rate is None else rate
        new = r * self.get(game, role) + (1.0 - r) * value
        self.values[(game, role)] = new
        return new

    def state_dict(self) -> dict[str, float]:
        """JSON-friendly: ``{"tic_tac_toe/0": 0.05, ...}``. Rate and init are config, not state."""
        return {f"{game}/{role}": value for (game, role), value in sorted(self.values.items(), key=str)}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Replace all values with those of a ``state_dict()`` (game names may themselves contain '/')."""
        values: dict[Key, float] = {}
        for name, value in state.items():
            game, sep, role = name.rpartition("/")
            if not sep or not game:
                raise ValueError(f"baseline key {name!r} is not 'game/role'")
            values[(game, role if role.startswith(("obs:", "ans:")) else int(role))] = float(value)
        self.values = values

    def __repr__(self) -> str:
        return f"RoleBaselines(rate={self.rate}, init={self.init}, values={self.state_dict()})"


# ---------------------------------------------------------------------------------------------------------------------------
# Small helpers shared by the estimators.


def _group_by(samples: Iterable[TurnSample], key: Callable[[TurnSample], Hashable]) -> dict[Any, list[TurnSample]]:
    groups: dict[Any, list[TurnSample]] = defaultdict(list)
    for s in samples:
        groups[key(s)].append(s)
    return groups


def _role_key(s: TurnSample) -> Key:
    return (s.game, s.role)


def observation_key(s: TurnSample) -> ObsKey:
    """The sample's observation: its prompt ids (the game state as its seat sees it, rules included)."""
    digest = hashlib.blake2b(array("l", s.prompt_ids).tobytes(), digest_size=8).hexdigest()
    return (s.game, f"obs:{digest}")


def answer_key(s: TurnSample) -> ObsKey:
    """The sample's answer as the model wrote it (its response ids), for its role, in any observation."""
    digest = hashlib.blake2b(array("l", s.response_ids).tobytes(), digest_size=8).hexdigest()
    return (s.game, f"ans:{s.role}:{digest}")


def _seat_key(s: TurnSample) -> tuple[str, int, int]:
    """One seat of one game: the unit whose turns share a return (game_id is the game's index in the step)."""
    return (s.game, s.game_id, s.seat)


def game_returns(samples: Iterable[TurnSample]) -> dict[Key, list[float]]:
    """Per (game, role): one return per game (per seat of that role), read from each seat's final turn.

    This is what makes the means below game-weighted rather than turn-weighted.
    A seat with no ``last_turn`` sample in the batch contributes nothing.
    """
    returns: dict[Key, list[float]] = defaultdict(list)
    for s in samples:
        if s.last_turn:
            returns[_role_key(s)].append(s.reward)
    return dict(returns)


def _std(values: list[float]) -> float:
    """Sample (Bessel-corrected) standard deviation, as torch.std; 0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    mu = fmean(values)
    return math.sqrt(sum((v - mu) ** 2 for v in values) / (len(values) - 1))


def _whiten(values: list[float]) -> list[float]:
    """(x - mean) / sqrt(var + 1e-8) with Bessel-corrected var, as ROLL's ``masked_whiten``."""
    if not values:
        return []
    mu = fmean(values)
    scale = math.sqrt(_std(values) ** 2 + WHITEN_EPS)
    return [(v - mu) / scale for v in values]


# ---------------------------------------------------------------------------------------------------------------------------
# Estimators. Each fills ``advantage`` in place and returns the same list.


def reinforce(samples: list[TurnSample]) -> list[TurnSample]:
    """A = reward: no baseline (SPIRAL's ``use_role_baseline=False`` ablation); the variance RAE exists to remove."""
    for s in samples:
        s.advantage = s.reward
    return samples


def rae(
    samples: list[TurnSample],
    baselines: RoleBaselines,
    rate: float | None = None,
    returns: Mapping[Key, list[float]] | None = None,
    baseline: Literal["role", "observation", "interaction", "value"] = "role",
) -> list[TurnSample]:
    """Role-conditioned advantage estimation (SPIRAL): A = reward - b[game, role], then update b.

    The baseline is read BEFORE this batch updates it, so a sample's own return
    never leaks into its baseline. Then, per (game, role) of the step,
    ``b <- rate*b + (1 - rate)*m`` where m is the mean return over the step's
    games, one value per seat. ``returns`` gives those values
    (``samples.role_returns``: every learning seat of every finished game,
    including seats that never moved, as SPIRAL updates every role from every
    game); ``None`` reads them from the samples' final turns
    (``game_returns``), which misses a seat with no samples.
    ``rate=None`` uses ``baselines.rate``.

    Differs from SPIRAL's code, which updates once per finished game, in the
    order games finish (A5). Here the update is once per batch (DESIGN, step 5)
    so that every sample of a step sees the same baseline and the result does
    not depend on the order of games inside the batch -- an order that lockstep
    rollout, batching and splitting across processes do not preserve. Shuffling
    the batch, or computing it in one process or in N, gives the same
    advantages and the same new baselines. (With per-game updates and rate
    0.95, one batch of n games moves b by 1 - 0.95**n; here by 0.05 per step.)

    With gamma < 1, ``reward`` is already the discounted return R*gamma**j, so
    A = R*gamma**j - b; SPIRAL computes (R - b)*gamma**j. The two agree at the
    default gamma = 1.

    ``baseline="observation"`` subtracts an
    estimate of the value of the very state the turn was played in, not of the
    role: the mean reward of the batch's OTHER turns with the same prompt ids
    (leave-one-out, so still unbiased), else that observation's EMA from past
    steps, else the role's EMA. Why: in Kuhn the card alone swings the return
    by about a chip, so with a role baseline every K turn gets a positive
    advantage and every J turn a negative one whatever was played. That
    noise is shared by all cards' answers and, through the shared weights,
    drags the policy of every card the same way; a state baseline removes it
    and leaves the part that says which move was better.

    ``baseline="interaction"`` is the observation baseline and, besides, each
    answer's edge: how much better than the role's average the very same
    answer (the same response ids) has done over the role's past turns, in any
    state (its EMA, read before this batch updates it; an answer never seen
    before has none). What is left of a good answer's return is the part that
    depends on the answer *in this state*. Only an edge above the average is
    taken away: an answer bad everywhere (a form the game refuses) keeps its
    blame -- taking that away too made a solver's every answer unreadable
    within 400 steps. Why: a solver that
    cannot add raises its reward fastest by answering a number that is often
    right (``8`` to every one-digit sum); through the shared weights that
    move is one common-mode push of that answer in every state, and it
    buries the state-dependent part. This baseline is biased on purpose: it
    takes away the gradient of an answer that is good everywhere, so it suits
    games whose right answer depends on the state (a solver, a critic), not
    those with a move good in every state (tic-tac-toe's centre). Measured on
    ``propose_solve``'s solver it did harm: each answer said often gains an
    edge and is pushed down wherever it is wrong, so the mass goes to numbers
    that are never right (held-out accuracy 0.044 -> 0.011; README).

    ``baseline="value"`` subtracts ``sample.value``, a learned V(s) filled in
    beforehand (``sparring.value``); the role EMAs are still kept, for metrics.
    """
    if baselines is None:
        raise ValueError("rae needs a RoleBaselines store (pass baselines=...)")
    before = {key: baselines.get(*key) for key in {_role_key(s) for s in samples}}
    for s in samples:
        s.advantage = s.reward - before[_role_key(s)]
    if baseline == "value":
        for s in samples:
            if s.value is None:
                raise ValueError("baseline='value' needs sample.value filled in (sparring.value.ValueBaseline)")
            s.advantage = s.reward - s.value
    if baseline in ("observation", "interaction"):
        for key, group in _group_by(samples, observation_key).items():
            total = sum(s.reward for s in group)
            for s in group:
                if len(group) > 1:
                    s.advantage = s.reward - (total - s.reward) / (len(group) - 1)
                elif baselines.known(*key):
                    s.advantage = s.reward - baselines.get(*key)
            baselines.update(*key, total / len(group), rate=rate)
    if baseline == "interaction":
        for key, group in _group_by(samples, answer_key).items():
            if baselines.known(*key):
                edge = max(0.0, baselines.get(*key) - before[_role_key(group[0])])
                for s in group:
                    s.advantage -= edge
            baselines.update(*key, fmean(s.reward for s in group), rate=rate)
    for (game, role), values in (game_returns(samples) if returns is None else returns).items():
        if values:
            baselines.update(game, role, fmean(values), rate=rate)
    return samples


def grpo(samples: list[TurnSample], normalize_std: bool = False, eps: float = 1e-6) -> list[TurnSample]:
    """Group-relative baseline: A = reward - mean of the group's game returns, group = (game, role) in this batch.

    Needs no state across steps: the batch's other games of the same (game,
    role) are the baseline. The mean is over games (one return per seat, see
    ``game_returns``). ``normalize_std`` divides by (std + eps) of the same
    per-game values (Bessel-corrected, as torch.std in GRPO implementations);
    Dr.GRPO leaves it off, which is the default. A group with a single game has
    nothing to compare with: its advantage is 0 (not reward - reward, which is
    non-zero for earlier turns when gamma < 1).
    """
    returns = game_returns(samples)
    for key, group in _group_by(samples, _role_key).items():
        values = returns.get(key, [])
        if len(values) < 2:
            for s in group:
                s.advantage = 0.0
            continue
        mu = fmean(values)
        scale = _std(values) + eps if normalize_std else 1.0
        for s in group:
            s.advantage = (s.reward - mu) / scale
    return samples


def mars(samples: list[TurnSample], format_bonus: float = 0.05, whiten: bool = True) -> list[TurnSample]:
    """MARS's turn-level advantage with agent-specific normalisation (reference B2, B3), one value per turn.

    The reference works on token tensors (a turn's reward on its end token,
    zeros elsewhere); here each turn is one value. The steps, in the
    reference's order:

    0. Turn reward (B2): r = (the seat's game return if this is its last turn,
       else 0) + ``format_bonus`` if the move was valid (``info["invalid"]`` is
       None). Adaptation: the game return is whatever rollout scored (e.g.
       SPIRAL's -1.5/+0.5 forfeit), not MARS's -11 losing state or +0.1 draw;
       the length penalty (non-zero only past 2048 tokens) is left out.
    1. Agent-specific centering: subtract the mean of r over all turns of the
       same (game, role) in the batch (turn-weighted, as the reference's mean
       over turn-end tokens).
    2. Whiten rewards over the whole batch (``whiten``). The reference takes
       mean and variance over all response tokens, most of them zero; here
       over turns, so the scale differs. After step 1 the mean is 0 either way.
    3. Reward-to-go within one seat of one game, turns ordered by ``turn``:
       A_k = sum of the seat's own centered rewards at turns k' >= k (gamma 1).
    4. Per role, pooled over all games in the batch (the reference groups by
       player across tags): subtract the unweighted mean of the DISTINCT
       values of A (``normalize_unique_values_by_player``). Adaptation: the
       reference's set also holds the values at prompt and padding positions
       (often a 0 from padding); here only the turns' values.
    5. Whiten advantages over the batch (``whiten``); the reference weights by
       response tokens, here each turn counts once.
    """
    # 0. turn rewards
    r = {id(s): (s.reward if s.last_turn else 0.0) + (format_bonus if s.info.get("invalid") is None else 0.0) for s in samples}
    # 1. centering per (game, role)
    centered: dict[int, float] = {}
    for group in _group_by(samples, _role_key).values():
        mu = fmean(r[id(s)] for s in group)
        for s in group:
            centered[id(s)] = r[id(s)] - mu
    # 2. whiten rewards over the batch
    if whiten:
        centered = dict(zip(centered, _whiten(list(centered.values())), strict=True))
    # 3. reward-to-go over the seat's own turns
    for seat_turns in _group_by(samples, _seat_key).values():
        to_go = 0.0
        for s in sorted(seat_turns, key=lambda s: s.turn, reverse=True):
            to_go += centered[id(s)]
            s.advantage = to_go
    # 4. per role: subtract the mean of the distinct values
    for group in _group_by(samples, lambda s: s.role).values():
        offset = fmean(set(s.advantage for s in group))
        for s in group:
            s.advantage -= offset
    # 5. whiten advantages over the batch
    if whiten:
        for s, a in zip(samples, _whiten([s.advantage for s in samples]), strict=True):
            s.advantage = a
    return samples


def drop_zero_advantage(samples: list[TurnSample], eps: float = 0.0) -> list[TurnSample]:
    """The samples with |advantage| > eps (SPIRAL's ``filter_zero_adv``): a zero advantage is a zero gradient, only cost."""
    return [s for s in samples if abs(s.advantage) > eps]


# ---------------------------------------------------------------------------------------------------------------------------
# Choosing an estimator is one config line.

ESTIMATORS: dict[str, Callable[..., list[TurnSample]]] = {
    "rae": rae,
    "grpo": grpo,
    "reinforce": reinforce,
    "mars": mars,
}


def estimate(
    name: str,
    samples: list[TurnSample],
    baselines: RoleBaselines | None = None,
    returns: Mapping[Key, list[float]] | None = None,
    **options: Any,
) -> list[TurnSample]:
    """Run the estimator called ``name`` on ``samples`` (in place; returns them).

    ``baselines`` and ``returns`` (the step's per-(game, role) game returns,
    ``samples.role_returns``) are passed only to estimators that take them
    (``rae``); the others are stateless and ignore them, so the training loop
    can always pass both. ``options`` are the estimator's own keyword
    arguments (e.g. ``normalize_std``).
    """
    try:
        fn = ESTIMATORS[name]
    except KeyError:
        raise ValueError(f"unknown advantage estimator {name!r}; valid: {', '.join(sorted(ESTIMATORS))}") from None
    params = inspect.signature(fn).parameters
    if "returns" in params:
        options["returns"] = returns
    if "baselines" in params:
        return fn(samples, baselines, **options)
    return fn(samples, **options)
