"""Shared fixtures: every available game, small and fast."""

from __future__ import annotations

import pytest

from sparring.engines.base import Generation, SamplingParams
from sparring.games import game_entries


def pytest_configure(config) -> None:
    """A bad SPARRING_PRECISION stops the session with its one-line error, not 400 failures."""
    from sparring.device import forced_precision
    from sparring.errors import UserError

    try:
        forced_precision()
    except UserError as err:
        pytest.exit(str(err), returncode=2)


def pytest_report_header(config) -> str:
    """Which precision unpinned tests run in (see tests/precision.py)."""
    import os

    from precision import in_use

    from sparring.device import PRECISION_ENV

    forced = os.environ.get(PRECISION_ENV)
    why = f"{PRECISION_ENV}={forced}" if forced else "auto, from this CPU"
    return f"sparring precision of unpinned tests: {'fp32' if in_use() is None else 'bf16 autocast'} ({why})"


AVAILABLE = [e.name for e in game_entries() if e.unavailable is None]
# Variants with parameters that change the rules are swept too.
VARIANTS = [
    "kuhn_poker:hands=3",
    "liars_dice:players=3",
    "simple_negotiation:max_turns=4",
    "propose_solve:family=code,attempts=2",
    "propose_solve:max_level=1",
    "qrv:level=2,attempts=2",
    "spy:players=4",
]


@pytest.fixture(params=AVAILABLE + VARIANTS)
def game_spec(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def bundled_tokenizer():
    from transformers import AutoTokenizer

    from sparring.engines import BUNDLED

    return AutoTokenizer.from_pretrained(BUNDLED)


@pytest.fixture
def tiny_model(bundled_tokenizer):
    """A freshly initialised, very small Llama over the bundled tokenizer (fast invariant tests)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(bundled_tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        eos_token_id=bundled_tokenizer.eos_token_id,
        pad_token_id=bundled_tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


class StubTokenizer:
    """Characters as token ids, no chat template: the prompt text can be read back from the ids."""

    chat_template = None

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [ord(c) for c in text]


class StubEngine:
    """Replies to each prompt with the answer ``answers`` gives for the question found in it, boxed after some
    words, so a benchmark's scoring can be checked against answers chosen by the test."""

    def __init__(self, answers: dict[str, str]):
        self.tokenizer = StubTokenizer()
        self.answers = answers
        self.batches: list[int] = []

    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Generation]:
        self.batches.append(len(prompts))
        out = []
        for ids in prompts:
            text = "".join(map(chr, ids))
            question = next(q for q in self.answers if q in text)
            reply = f"Let me think. The answer is \\boxed{{{self.answers[question]}}}"
            out.append(Generation(ids[:3], [0.0] * 3, reply, "stop"))
        return out
