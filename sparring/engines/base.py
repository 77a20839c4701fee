"""The engine protocol: token ids in, token ids and their log-probabilities out.

Every backend (``HFEngine`` on CPU or one GPU, ``VLLMEngine`` on GPUs) speaks
only token ids, so the learner trains on exactly the ids that were sampled and
never re-tokenizes text. Backends also score given continuations (the exact
policy view of a model) and take new weights in place after a learner step.

The training loop talks to its engine through this protocol alone: the pad id
and the sampling stream it seeds, and the two hooks around each learner step
(:func:`while_learning`), so it never asks which backend it holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch


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
    pad_id: int
    """The id that pads prompt batches (the learner pads with it too)."""
    rng: torch.Generator
    """The sampling stream: seeded per step by the loop, saved in checkpoints."""

    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Generation]: ...

    def score(self, prompts: list[list[int]], continuations: list[list[int]], temperature: float = 1.0) -> list[list[float]]:
        """Per-token log-probabilities of each continuation after its prompt."""
        ...

    def load_weights(self, weights: Any) -> None:
        """Replace the weights in place: a state dict, or a directory with safetensors."""
        ...

    def before_learning(self) -> None:
        """The learner is about to update the policy: an engine may lend it memory meanwhile (vLLM sleeps)."""
        ...

    def after_learning(self, model: Any) -> None:
        """``model``'s weights changed (a learner step, a restored checkpoint): an engine holding its
        own copy of the weights loads them (vLLM); one sharing the module (HFEngine) has nothing to do."""
        ...


@contextmanager
def while_learning(engine: Engine, model: Any) -> Iterator[None]:
    """Around a learner step: the engine's two hooks, the second one even when the step raises."""
    engine.before_learning()
    try:
        yield
    finally:
        engine.after_learning(model)
