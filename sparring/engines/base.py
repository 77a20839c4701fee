"""The engine protocol: token ids in, token ids and their log-probabilities out.

Every backend (``HFEngine`` on CPU or one GPU, ``VLLMEngine`` on GPUs) speaks
only token ids, so the learner trains on exactly the ids that were sampled and
never re-tokenizes text. Backends also score given continuations (the exact
policy view of a model) and take new weights in place after a learner step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 1.0
    """1.0 samples the model's own distribution (SPIRAL's training setting)."""
    top_p: float = 1.0
    top_k: int = 0
    """0 disables top-k."""
    max_new_tokens: int = 64
    stop: tuple[str, ...] = ()
    """Stop when the generated text ends with one of these (kept in the output)."""
    stop_token_ids: tuple[int, ...] = ()
    """Extra stop ids on top of the tokenizer's end-of-turn / end-of-text ids."""
    ignore_eos: bool = False
    """Keep generating past end-of-turn tokens (throughput benchmarks; as in vLLM)."""
    seed: int | None = None
    """Same seed, same prompts -> same samples. None: continue the engine's own stream."""


@dataclass
class Generation:
    token_ids: list[int]
    """Generated ids, the stop token included when there was one."""
    logprobs: list[float]
    """log p(token) under the sampling distribution at ``temperature`` (before top-p/top-k renormalisation)."""
    text: str
    finish_reason: Literal["stop", "length"]


@dataclass
class EngineStats:
    generated_tokens: int = 0
    generate_seconds: float = 0.0
    calls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Engine(Protocol):
    tokenizer: Any

    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Generation]: ...

    def score(self, prompts: list[list[int]], continuations: list[list[int]], temperature: float = 1.0) -> list[list[float]]:
        """Per-token log-probabilities of each continuation after its prompt."""
        ...

    def load_weights(self, weights: Any) -> None:
        """Replace the weights in place: a state dict, or a directory with safetensors."""
        ...
