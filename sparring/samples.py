"""Turn samples: the one record that flows from rollout to advantages to the learner.

    game records (rollout)  ->  turn_samples  ->  TurnSample[]  ->  advantages  ->  learner

A sample is one decision of a learning seat (SPIRAL's turn view): the exact
prompt ids the model read, the ids it generated and their log-probs at
generation, and -- filled in here -- the reward that turn earns (the game's
return to that seat, optionally discounted by how many of the seat's own
turns were still to come). Advantage estimators then fill ``advantage``.

In the trajectory view (MARS, ``prompt.view: trajectory``) the turns of one
seat in one game are then merged (:func:`trajectories`) into one sample: the
seat's first prompt, and as response everything after it -- each answer the
model generated, with the next observation's ids between them. ``segments``
marks the generated stretches and carries each turn's advantage; the ids in
between are context only (no loss). A turn sample is the one-segment case,
and the learner reads every sample through :meth:`TurnSample.spans`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sparring.rollout import GameRecord


@dataclass
class TurnSample:
    game: str
    """Game name (baselines are kept per game and role)."""
    role: int
    """The seat's role in the game; for the two-seat games here, the seat number (0 moves first)."""
    seat: int
    turn: int
    """Index of this decision among the seat's own decisions in the game (0, 1, ...)."""
    prompt_ids: list[int]
    response_ids: list[int]
    response_logprobs: list[float]
    reward: float = 0.0
    advantage: float = 0.0
    game_id: int = 0
    """Index of the game in the step's batch (GRPO groups, MARS per-game sums)."""
    last_turn: bool = False
    """This is the seat's final decision in the game (MARS places the outcome here)."""
    value: float | None = None
    """A learned estimate of this turn's reward from its prompt alone (``advantage.baseline: value``)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Parsed action, invalid reason, finish reason, text -- for replays and metrics."""
    segments: list[tuple[int, int, float]] | None = None
    """Trajectory view: ``(start, end, advantage)`` of each generated stretch of ``response_ids`` that is
    learned from; None for a turn sample (its whole response, with ``advantage``)."""

    def spans(self) -> list[tuple[int, int, float]]:
        """The stretches of ``response_ids`` the loss covers, each with its advantage."""
        return self.segments if self.segments is not None else [(0, len(self.response_ids), self.advantage)]

    @property
    def generated_tokens(self) -> int:
        """Tokens the loss covers: the model's own, never the observations between them."""
        return sum(end - start for start, end, _ in self.spans())


def turn_samples(
    records: list[GameRecord],
    learner_seats: Callable[[int, GameRecord], list[int]],
    gamma: float = 1.0,
    invalid_credit: Literal["game", "turn"] = "game",
    turn_credit: Literal["return", "own"] = "return",
) -> list[TurnSample]:
    """Every decision made by a learning seat, with its reward.

    ``learner_seats(i, record)`` names the seats of game i played by the
    learning policy (all seats in self-play, one seat against a fixed
    opponent). Turn k of a seat that made n decisions gets
    ``R * gamma ** (n - 1 - k)`` where R is the seat's return for the game
    (its forfeit score after an invalid move). Turns with no token ids (a
    bot's turns) are never samples.

    ``invalid_credit="turn"`` charges a game that ended on an invalid move to
    the offending turn alone: it keeps the offender's penalty and every other
    turn of that game, both seats', gets 0 -- the moves before the mistake
    were not what lost, and the opponent did nothing to earn the forfeit.
    SPIRAL's rule (``"game"``) gives the forfeit scores to every turn.

    ``turn_credit="own"`` gives each turn of a seat the game scores turn by
    turn (``record.turn_rewards``: a solver's k attempts, 1 right / 0 wrong)
    its own reward, where ``"return"`` gives every attempt the seat's success
    rate p -- a wrong answer then earns what its right siblings did.
    """
    samples: list[TurnSample] = []
    for game_id, record in enumerate(records):
        forfeit_by_turn = invalid_credit == "turn" and record.invalid_seat is not None
        for seat in learner_seats(game_id, record):
            turns = [t for t in record.turns if t.seat == seat and "response_ids" in t.info]
            n = len(turns)
            final = credited_return(record, seat, invalid_credit)
            own = record.turn_rewards.get(seat) if turn_credit == "own" else None
            if own is not None and len(own) != n:
                raise ValueError(f"{record.game} scored {len(own)} turns of seat {seat}, which made {n} decisions")
            for k, t in enumerate(turns):
                # A turn the game scored by itself keeps its score; a turn-credited forfeit pays the final turn
                # alone; otherwise every turn gets the return, discounted by turns to come.
                if own is not None:
                    reward = own[k]
                else:
                    reward = (final if k == n - 1 else 0.0) if forfeit_by_turn else final * gamma ** (n - 1 - k)
                samples.append(
                    TurnSample(
                        game=record.game,
                        role=seat,
                        seat=seat,
                        turn=k,
                        prompt_ids=t.info["prompt_ids"],
                        response_ids=t.info["response_ids"],
                        response_logprobs=t.info["logprobs"],
                        reward=reward,
                        game_id=game_id,
                        last_turn=k == n - 1,
                        info={
                            "action": t.action,
                            "invalid": t.invalid,
                            "text": t.text,
                            "finish_reason": t.info.get("finish_reason"),
                            "truncated_game": record.truncated,
                        },
                    )
                )
    return samples


def credited_return(record: GameRecord, seat: int, invalid_credit: Literal["game", "turn"] = "game") -> float:
    """The seat's return for the game as ``turn_samples`` credits it to the seat's final turn.

    The game's return, except that with ``invalid_credit="turn"`` a game ended
    by another seat's invalid move credits this seat 0 (see ``turn_samples``).
    """
    if invalid_credit == "turn" and record.invalid_seat is not None and seat != record.invalid_seat:
        return 0.0
    return record.returns[seat]


def role_returns(
    records: list[GameRecord],
    learner_seats: Callable[[int, GameRecord], list[int]],
    invalid_credit: Literal["game", "turn"] = "game",
) -> dict[tuple[str, int], list[float]]:
    """Per (game, role): the credited return of every learning seat of every finished game, one value per seat.

    This is what a role baseline learns from (SPIRAL updates every role's
    baseline from every finished game). Unlike reading the samples' final
    turns, it also counts a seat that never moved -- the second player of a
    game the first one forfeited on its first move still scored +0.5 -- without
    inventing a sample for a decision that was never made.
    """
    returns: dict[tuple[str, int], list[float]] = {}
    for game_id, record in enumerate(records):
        for seat in learner_seats(game_id, record):
            returns.setdefault((record.game, seat), []).append(credited_return(record, seat, invalid_credit))
    return returns


def trajectories(samples: list[TurnSample], learned: list[TurnSample] | None = None) -> list[TurnSample]:
    """MARS's view: the turn samples of each (game, seat) merged into one sample, in first-seen order.

    The merged sample's ids are the seat's final prompt and answer, which in
    the trajectory view hold every earlier prompt and answer as a prefix;
    each turn's answer becomes a segment with that turn's advantage.
    ``learned`` (default: all) are the turns the loss covers -- the others
    (e.g. dropped for a zero advantage) stay in as context only, and a seat
    with none is left out. A turn whose ids are not a prefix of the seat's
    later ones (turn-view samples) is an error: the learner must read
    exactly what the model read.
    """
    keep = {id(s) for s in (samples if learned is None else learned)}
    seats: dict[tuple[int, int], list[TurnSample]] = {}
    for s in samples:
        seats.setdefault((s.game_id, s.seat), []).append(s)
    out = []
    for turns in seats.values():
        turns.sort(key=lambda s: s.turn)
        last = turns[-1]
        ids = last.prompt_ids + last.response_ids
        start = len(turns[0].prompt_ids)
        logprobs = [0.0] * (len(ids) - start)
        segments = []
        for t in turns:
            at = len(t.prompt_ids)
            if ids[:at] != t.prompt_ids or ids[at : at + len(t.response_ids)] != t.response_ids:
                raise ValueError(
                    f"{t.game} game {t.game_id} seat {t.seat} turn {t.turn}: its ids are not a prefix of the seat's "
                    "later turns (was it played with prompt.view=turn?)"
                )
            logprobs[at - start : at - start + len(t.response_ids)] = t.response_logprobs
            if id(t) in keep:
                segments.append((at - start, at - start + len(t.response_ids), t.advantage))
        if segments:
            out.append(
                replace(
                    turns[0],
                    turn=0,
                    response_ids=ids[start:],
                    response_logprobs=logprobs,
                    reward=last.reward,
                    advantage=0.0,
                    last_turn=True,
                    info={"turns": len(turns)},
                    segments=segments,
                )
            )
    return out


def penalize_repeats(records: list[GameRecord], weight: float) -> tuple[list[GameRecord], dict[str, float]]:
    """R-Zero's repetition penalty (Huang et al. 2025) on exact repeats: in each game whose registry entry names
    a ``proposer_seat``, that seat's return drops by ``weight`` times the share of the step's games of the same
    game whose proposal (the seat's first move, whitespace collapsed) was the same text. A refused proposal is
    not a proposal and is never counted. Returns new records (the originals, which the league and the logs
    read, keep the game's own returns) and, per such game, the share of distinct texts among its proposals
    (measured whatever the weight: 1.0 is no repeat, 1/n one task n times)."""
    from sparring.games.registry import game_entry
    from sparring.specs import parse_spec

    def proposal(record: GameRecord) -> str | None:
        seat = seat_of[record.game]
        first = next((t for t in record.turns if t.seat == seat), None) if seat is not None else None
        if first is None or first.invalid is not None or first.action is None:
            return None
        return " ".join(first.action.split())

    seat_of = {r.game: game_entry(parse_spec(r.game, what="game").name).proposer_seat for r in records}
    proposals = [proposal(r) for r in records]
    counts: dict[str, Counter[str]] = {}
    for r, text in zip(records, proposals, strict=True):
        if text is not None:
            counts.setdefault(r.game, Counter())[text] += 1
    made = {game: c.total() for game, c in counts.items()}
    distinct = {game: len(c) / made[game] for game, c in counts.items()}
    if weight == 0.0:
        return records, distinct
    out = []
    for r, text in zip(records, proposals, strict=True):
        if text is None:
            out.append(r)
            continue
        returns = list(r.returns)
        returns[seat_of[r.game]] -= weight * counts[r.game][text] / made[r.game]
        out.append(replace(r, returns=returns))
    return out, distinct
