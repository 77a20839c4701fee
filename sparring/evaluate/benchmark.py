"""Reasoning transfer: score a model on math problems the user provides, with math-verify.

SPIRAL's claim is that self-play on games improves reasoning elsewhere. We
cannot ship MATH500, GSM8K or AIME, so ``sparring eval MODEL --benchmark
FILE.jsonl`` reads any JSONL with a ``problem`` (or ``question``) and an
``answer`` per line. Each problem is asked the way game turns are asked -- a
system message plus the question, through the model's chat template
(:func:`sparring.prompts.encode_chat`) -- and all problems go through the
engine in batches. The final answer is expected in ``\\boxed{}``;
`math-verify <https://github.com/huggingface/Math-Verify>`_ decides whether
it equals the reference (``\\frac{1}{2}`` = ``0.5``, ``1,000`` = ``1000``),
since exact string matching badly under-counts correct answers.

A GSM8K ``answer`` holds the worked solution ending in ``#### 72``; only the
part after the last ``####`` is the reference.

A line may also carry a ``system`` field: the system message for that problem
instead of the default, either as text or as ``game:<spec>`` for the rules
prompt a game's players see (``game:propose_solve``). Held-out sets for a
role game (``arith_heldout.jsonl``, ``critic_heldout.jsonl``) are asked that
way, so a score measures the game's skill on new problems, not whether the
model follows an instruction it was never taught.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sparring.engines.base import Engine, SamplingParams
from sparring.errors import UserError
from sparring.evaluate.stats import rate
from sparring.prompts import encode_chat

BENCHMARK_SYSTEM = "Solve the problem. Reason step by step, then put your final answer within \\boxed{}."
QUESTION_FIELDS = ("problem", "question")
SAMPLE = Path(__file__).resolve().parent.parent / "assets" / "benchmarks" / "sample_math.jsonl"


@dataclass(frozen=True)
class Problem:
    index: int
    """Line number in the file (1-based), so a result can be traced to its source."""
    question: str
    answer: str
    system: str | None = None
    """This problem's system message (``None``: the run's default)."""


@dataclass
class ProblemResult:
    index: int
    question: str
    answer: str
    response: str
    predicted: str | None
    """What math-verify read as the model's final answer (None: nothing it could parse)."""
    correct: bool
    response_tokens: int
    finish_reason: str


@dataclass
class BenchmarkResult:
    name: str
    results: list[ProblemResult]

    @property
    def correct(self) -> int:
        return sum(r.correct for r in self.results)

    def summary(self) -> dict[str, Any]:
        """Accuracy with its 95% Wilson interval: 10 problems say little, and the interval shows it."""
        n = len(self.results)
        acc = rate(self.correct, n)
        tokens = sum(r.response_tokens for r in self.results) / n if n else 0.0
        cut = sum(r.finish_reason == "length" for r in self.results) / n if n else 0.0
        return {
            "benchmark": self.name,
            "problems": n,
            "correct": self.correct,
            "accuracy": acc["rate"],
            "interval": [acc["low"], acc["high"]],
            "mean_response_tokens": tokens,
            "truncated": cut,
        }


def require_math_verify() -> ModuleType:
    """The math_verify module, or a one-line error with the install command."""
    try:
        import math_verify
    except ImportError:
        raise UserError("benchmarks are scored with math-verify, which is not installed: pip install math-verify") from None
    return math_verify


def gold_answer(raw: Any) -> str:
    """The reference answer as text; a GSM8K-style ``... #### 72`` keeps only ``72``."""
    text = str(raw).strip()
    return text.rsplit("####", 1)[1].strip() if "####" in text else text


def load_problems(path: str | Path, limit: int | None = None) -> list[Problem]:
    """Read a JSONL benchmark; every malformed line is reported with its number, all at once."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"benchmark file not found: {path}")
    if limit is not None and limit < 1:
        raise UserError("--limit must be at least 1")
    problems, errors = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            errors.append(f"line {number}: not JSON ({err.msg})")
            continue
        fields = {str(k).lower(): v for k, v in row.items()} if isinstance(row, dict) else {}
        question = next((fields[k] for k in QUESTION_FIELDS if k in fields), None)
        if question is None or "answer" not in fields:
            errors.append(f"line {number}: needs 'problem' (or 'question') and 'answer', has {sorted(fields) or 'none'}")
            continue
        try:
            system = problem_system(fields.get("system"))
        except UserError as err:
            errors.append(f"line {number}: {err}")
            continue
        problems.append(Problem(number, str(question), gold_answer(fields["answer"]), system))
        if limit is not None and len(problems) >= limit:
            break
    if errors:
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise UserError(f"{path}: {'; '.join(errors[:3])}{more}")
    if not problems:
        raise UserError(f"{path} holds no problems")
    return problems


def problem_system(raw: Any) -> str | None:
    """A line's ``system`` field as the message text: ``game:<spec>`` is that game's rules prompt, as its players
    get it (one rendering for training and evaluation, so the two cannot drift apart)."""
    if raw is None:
        return None
    text = str(raw)
    if not text.startswith("game:"):
        return text
    return game_system(text.removeprefix("game:"))


@cache
def game_system(spec: str) -> str:
    """The system message of ``spec``'s turn prompts (the rules do not depend on the state)."""
    from sparring.games import make_game
    from sparring.prompts import render_messages

    game = make_game(spec)
    state = game.new_state(0)
    return render_messages(game, state, state.current_player)[0]["content"]


def check_answer(gold: str, response: str) -> tuple[bool, str | None]:
    """Whether ``response``'s final answer equals ``gold`` mathematically, and what was read from it."""
    mv = require_math_verify()
    reference = mv.parse(f"\\boxed{{{gold}}}") or mv.parse(gold)
    predicted = mv.parse(response)
    if not predicted:
        return False, None
    return bool(mv.verify(reference, predicted)), str(predicted[-1])


def score_benchmark(
    engine: Engine,
    problems: list[Problem],
    sampling: SamplingParams,
    name: str = "benchmark",
    system: str = BENCHMARK_SYSTEM,
    batch_size: int = 64,
    progress: bool = False,
) -> BenchmarkResult:
    """Generate an answer to every problem (``batch_size`` per engine call) and check each with math-verify."""
    require_math_verify()
    results = []
    with Progress(
        TextColumn(f"[bold]{name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), disable=not progress, transient=True
    ) as bar:
        task = bar.add_task(name, total=len(problems))
        for lo in range(0, len(problems), batch_size):
            chunk = problems[lo : lo + batch_size]
            asked = [(p.question, system if p.system is None else p.system) for p in chunk]
            prompts = [encode_chat(engine.tokenizer, messages(q, s)) for q, s in asked]
            for problem, gen in zip(chunk, engine.generate(prompts, sampling), strict=True):
                correct, predicted = check_answer(problem.answer, gen.text)
                results.append(
                    ProblemResult(
                        problem.index,
                        problem.question,
                        problem.answer,
                        gen.text,
                        predicted,
                        correct,
                        len(gen.token_ids),
                        gen.finish_reason,
                    )
                )
            bar.update(task, advance=len(chunk))
    return BenchmarkResult(name, results)


def messages(question: str, system: str = BENCHMARK_SYSTEM) -> list[dict[str, str]]:
    """The chat for one problem: the system instruction (if any) and the question."""
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": question}]


def write_results(result: BenchmarkResult, path: Path) -> None:
    """One JSON line per problem (what was asked, said, read, and whether it was right)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(asdict(r)) + "\n" for r in result.results), encoding="utf-8")


def run_benchmark(
    target: Any,
    path: str | Path,
    limit: int | None = None,
    max_new_tokens: int = 512,
    temperature: float = 0.0,
    device: str | None = None,
    out: Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Score a resolved eval target (:class:`sparring.evaluate.checkpoints.Target`) on a JSONL benchmark.

    Per-problem results go to ``out``, or for a run to ``RUN/eval/benchmark-<file>-step-K.jsonl``
    (with the summary beside it as ``.json``); greedy decoding by default, so a rerun gives the same score.
    """
    from sparring.checkpoint import RunDir
    from sparring.evaluate.checkpoints import load_engine, write_json_atomically

    require_math_verify()
    if max_new_tokens < 1:
        raise UserError("--max-new-tokens must be at least 1")
    problems = load_problems(path, limit)
    engine = load_engine(target, device)
    sampling = SamplingParams(temperature=temperature, max_new_tokens=max_new_tokens, seed=0)
    result = score_benchmark(engine, problems, sampling, name=Path(path).stem, progress=progress)
    summary = {
        **result.summary(),
        "file": str(path),
        "model": str(target.model_dir),
        "step": target.step,
        "settings": {"temperature": temperature, "max_new_tokens": max_new_tokens, "limit": limit},
    }
    if out is None and target.run_dir is not None and target.step is not None:
        out = RunDir(target.run_dir).benchmark_path(Path(path).stem, target.step)
    summary["results_file"] = str(out) if out else None
    if out is not None:
        write_results(result, out)
        write_json_atomically(out.with_suffix(".json" if out.suffix != ".json" else ".summary.json"), summary)
    return summary
