"""Model oracles: an LM judge (local ``model:`` or hosted ``api:``) and a Bradley-Terry reward model (``rm:``).

A pairwise judge is asked "which answer is better, A or B?" twice, the second
time with the answers swapped, and the two verdicts are averaged:

    P(a > b) = 1/2 * (P_judge(A | a first, b second) + P_judge(B | b first, a second))

so whatever bias the judge has toward the first (or second) position cancels,
and P(a > b) + P(b > a) = 1 exactly (tested). A local judge reads the
probabilities of its next token ``A`` vs ``B``; a hosted one answers with text
at temperature 0, and an unreadable answer counts as a tie.

A reward-model directory is a Hugging Face sequence classifier with one
output (``AutoModelForSequenceClassification``, ``num_labels=1``), the shape
TRL's reward trainer writes; the preference is ``sigmoid(r(a) - r(b))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from sparring.errors import UserError
from sparring.preference.oracles import Oracle, sigmoid
from sparring.preference.tasks import Task

JUDGE_SYSTEM = "You compare two answers to the same question. Reply with one letter: A or B, the better answer."


def judge_messages(task: Task, first: str, second: str) -> list[dict[str, str]]:
    user = f"Question: {task.prompt}\n\nAnswer A: {first}\n\nAnswer B: {second}\n\nWhich answer is better, A or B?"
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def swap_average(first_wins: Sequence[float], second_wins_swapped: Sequence[float]) -> list[float]:
    """Average the verdict on (a, b) with the verdict on (b, a): order bias cancels."""
    return [0.5 * (p + q) for p, q in zip(first_wins, second_wins_swapped, strict=True)]


def load_judge_model(path: str, device: str = "cpu") -> tuple[Any, Any]:
    """(tokenizer, HFEngine) of a local model directory (``bundled``: the bundled model); UserError if it is not one."""
    from sparring.engines.hf import HFEngine
    from sparring.engines.paths import load_tokenizer, resolve_model_path

    try:
        resolved = resolve_model_path(path)
    except UserError:
        raise UserError(f"judge model:{path}: not a model directory (no config.json)") from None
    tokenizer = load_tokenizer(resolved)
    return tokenizer, HFEngine(resolved, tokenizer=tokenizer, device=device)


class LMJudge:
    """A local causal LM as a pairwise judge, from its next-token probabilities of ``A`` and ``B``."""

    def __init__(self, path: str, device: str = "cpu"):
        self.tokenizer, self.engine = load_judge_model(path, device)
        self.name = f"model:{path}"
        self.letters = [self.tokenizer.encode(x, add_special_tokens=False)[0] for x in ("A", "B")]

    def p_first(self, tasks: Sequence[Task], first: Sequence[str], second: Sequence[str]) -> list[float]:
        """P(judge says A) among {A, B}, for each (task, first, second)."""
        from sparring.prompts import encode_chat

        prompts = [encode_chat(self.tokenizer, judge_messages(t, x, y)) for t, x, y in zip(tasks, first, second, strict=True)]
        a = self.engine.score(prompts, [[self.letters[0]]] * len(prompts))
        b = self.engine.score(prompts, [[self.letters[1]]] * len(prompts))
        return [sigmoid(la[0] - lb[0]) for la, lb in zip(a, b, strict=True)]

    def prefer(self, tasks: Sequence[Task], a: Sequence[str], b: Sequence[str]) -> list[float]:
        if not tasks:
            return []
        return swap_average(self.p_first(tasks, a, b), [1.0 - p for p in self.p_first(tasks, b, a)])


class APIJudge:
    """An OpenAI-compatible chat model as a pairwise judge (temperature 0, one letter)."""

    def __init__(self, client: Any, model: str, concurrency: int = 8):
        self.client = client
        self.model = model
        self.concurrency = concurrency
        self.name = f"api:{model}"

    def verdict(self, task: Task, first: str, second: str) -> float:
        """1 if the judge names the first answer, 0 the second, 1/2 if it names neither or the call failed."""
        body = {"model": self.model, "messages": judge_messages(task, first, second), "temperature": 0, "max_tokens": 4}
        done = self.client.complete(body)
        text = "" if done.error is not None else done.text.strip().upper()
        return 1.0 if text.startswith("A") else 0.0 if text.startswith("B") else 0.5

    def prefer(self, tasks: Sequence[Task], a: Sequence[str], b: Sequence[str]) -> list[float]:
        jobs = [(t, x, y) for t, x, y in zip(tasks, a, b, strict=True)] + [(t, y, x) for t, x, y in zip(tasks, a, b, strict=True)]
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(jobs)))) as pool:
            verdicts = list(pool.map(lambda job: self.verdict(*job), jobs))
        n = len(tasks)
        return swap_average(verdicts[:n], [1.0 - v for v in verdicts[n:]])


class RewardModelOracle:
    """A Bradley-Terry reward model: r(prompt, response) from a one-output sequence classifier."""

    def __init__(self, path: str, device: str = "cpu", batch_size: int = 32):
        from transformers import AutoModelForSequenceClassification

        from sparring.engines.paths import load_tokenizer

        if not (Path(path) / "config.json").is_file():
            raise UserError(f"oracle rm:{path}: not a model directory (no config.json)")
        self.tokenizer = load_tokenizer(path)
        self.model = AutoModelForSequenceClassification.from_pretrained(path).to(device).eval()
        if self.model.config.num_labels != 1:
            raise UserError(
                f"oracle rm:{path}: a reward model has one output (num_labels=1), this one has {self.model.config.num_labels}"
            )
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.name = f"rm:{path}"

    def text(self, task: Task, response: str) -> str:
        messages = [{"role": "user", "content": task.prompt}, {"role": "assistant", "content": response}]
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False)
        return f"User: {task.prompt}\n\nAssistant: {response}"

    @torch.no_grad()
    def score(self, tasks: Sequence[Task], texts: Sequence[str]) -> list[float]:
        rows = [self.text(t, x) for t, x in zip(tasks, texts, strict=True)]
        out: list[float] = []
        for lo in range(0, len(rows), self.batch_size):
            batch = self.tokenizer(rows[lo : lo + self.batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
            logits = self.model(**{k: v.to(self.device) for k, v in batch.items()}).logits
            out.extend(logits[:, 0].float().tolist())
        return out

    def prefer(self, tasks: Sequence[Task], a: Sequence[str], b: Sequence[str]) -> list[float]:
        return [sigmoid(x - y) for x, y in zip(self.score(tasks, a), self.score(tasks, b), strict=True)]


def _options(rest: str) -> tuple[str, dict[str, str]]:
    head, *pairs = rest.split(",")
    options = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq:
            raise UserError(f"oracle option {pair!r}: write key=value")
        options[key.strip()] = value.strip()
    return head.strip(), options


def make_judge(kind: str, rest: str, device: str = "cpu") -> Oracle:
    """``model:PATH``, ``api:MODEL[,base_url=..,key_env=..,rpm=..,timeout=..]`` or ``rm:PATH``."""
    if kind == "model":
        return LMJudge(rest, device)
    if kind == "rm":
        return RewardModelOracle(rest, device)
    model, client, options = api_client(rest)
    return APIJudge(client, model, int(options.get("concurrency", 8)))


def api_client(rest: str, what: str = "oracle") -> tuple[str, Any, dict[str, str]]:
    """(model, ChatClient, options) from ``MODEL[,base_url=..,key_env=..,rpm=..,timeout=..,retries=..,concurrency=..]``."""
    from sparring.players.api import DEFAULT_BASE_URL, ChatClient, RateLimiter, _api_key

    model, options = _options(rest)
    unknown = set(options) - {"base_url", "key_env", "rpm", "timeout", "retries", "concurrency"}
    if unknown:
        raise UserError(f"{what} api:{rest}: unknown option(s) {', '.join(sorted(unknown))}")
    try:
        rpm = float(options.get("rpm", 60))
        int(options.get("concurrency", 8))
        client = ChatClient(
            options.get("base_url", DEFAULT_BASE_URL),
            _api_key(options.get("key_env", "OPENAI_API_KEY")),
            timeout=float(options.get("timeout", 30)),
            retries=int(options.get("retries", 4)),
            limiter=RateLimiter(rpm) if rpm > 0 else None,
        )
    except ValueError as err:
        raise UserError(f"{what} api:{rest}: {err}") from None
    return model, client, options
