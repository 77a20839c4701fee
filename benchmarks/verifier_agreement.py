"""How often a model verifier agrees with the exact rule on qrv's answers (the control the issue asks for).

Plays ``--games`` qrv games between the ``prior`` questioner and the ``prior``
responder (right about 40-50% of the time, so both right and wrong answers
are judged), with ``judge=SPEC`` deciding the returns, and compares every
verdict with the exact rule's. Prints a table with 95% Wilson intervals and
writes JSON:

- agreement: the share of answers on which the judge and the rule agree;
- accepts wrong: P(judge yes | the rule says wrong) -- reward for a wrong answer;
- rejects right: P(judge no | the rule says right) -- a right answer unpaid.

    .venv/bin/python benchmarks/verifier_agreement.py --judge model:bundled --games 200
    .venv/bin/python benchmarks/verifier_agreement.py --judge api:gpt-4o-mini --games 100   # with OPENAI_API_KEY set
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import machine, table, write_json

from sparring.evaluate.stats import wilson_interval
from sparring.games import make_game
from sparring.players.prior import PriorPlayer
from sparring.rollout import play_games


def rate(hits: int, n: int) -> dict[str, float]:
    lo, hi = wilson_interval(hits, n)
    return {"rate": hits / n if n else float("nan"), "lo": lo, "hi": hi, "n": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judge", default="model:bundled", help="model:PATH or api:MODEL[,options]")
    parser.add_argument("--games", type=int, default=200)
    parser.add_argument("--level", type=int, default=0, help="qrv level (document length)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/verifier_agreement.json"))
    args = parser.parse_args()

    game = make_game(f"qrv:level={args.level},judge={args.judge}")
    started = time.perf_counter()
    records = play_games(game, [PriorPlayer(game), PriorPlayer(game)], args.games, seed=args.seed, progress=True)
    seconds = time.perf_counter() - started
    pairs = []  # (judge verdict, exact verdict) for every answer of a valid question
    for r in records:
        if r.invalid_seat is not None:  # a refused move: no verdicts
            continue
        state = game.new_state(r.seed)
        for turn in r.turns:
            state.apply(turn.action)
        pairs += list(zip(state.verdicts, state.exact, strict=True))
    right = [v for v, e in pairs if e]
    wrong = [v for v, e in pairs if not e]
    result = {
        "agreement": rate(sum(v == e for v, e in pairs), len(pairs)),
        "accepts_wrong": rate(sum(wrong), len(wrong)),
        "rejects_right": rate(len(right) - sum(right), len(right)),
    }
    rows = [
        {"measure": name, "rate": f"{x['rate']:.3f}", "ci": f"[{x['lo']:.3f}, {x['hi']:.3f}]", "answers": x["n"]}
        for name, x in result.items()
    ]
    print(f"qrv:level={args.level} judged by {args.judge}: {len(pairs)} answers in {args.games} games, {seconds:.0f} s")
    print(table(rows, [("measure", "measure", ""), ("rate", "rate", ""), ("ci", "95% CI", ""), ("answers", "answers", "")]))
    failures = getattr(game.verifier, "failures", 0)
    write_json(
        args.out,
        {
            "benchmark": "verifier_agreement",
            "judge": args.judge,
            "level": args.level,
            "games": args.games,
            "seed": args.seed,
            "answers": len(pairs),
            "failed_calls": failures,
            "seconds": seconds,
            "machine": machine(),
            **result,
        },
    )


if __name__ == "__main__":
    main()
