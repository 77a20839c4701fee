"""Text-generation engines. ``HFEngine`` is the default; ``VLLMEngine`` lives behind the ``gpu`` extra.

:func:`make_engine` is the one place that picks the backend from a run's config.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparring.engines.base import Engine, EngineStats, Generation, SamplingParams
from sparring.engines.paths import BUNDLED, load_tokenizer, resolve_model_path
from sparring.errors import UserError

if TYPE_CHECKING:
    from sparring.config import TrainConfig


def make_engine(config: TrainConfig, tokenizer: Any, model: Any | None = None, device: str | None = None) -> Engine:
    """The policy's engine for ``config.engine.kind`` (``hf`` or ``vllm``).

    ``model``: the learner's module. An HF engine samples from that very module (no
    weight copies); a vLLM engine loads ``config.model.path`` itself and uses an HF
    engine over the module as its scorer at temperatures other than 1. None: the
    model is loaded from ``config.model.path`` (a rollout worker; HF on ``device``,
    vLLM without a scorer).
    """
    from sparring.engines.hf import HFEngine

    precision = config.model.precision
    if config.engine.kind == "vllm":
        from sparring.engines.vllm import vllm_engine_for

        scorer = None if model is None else HFEngine(model, tokenizer, device=config.model.device, autocast=precision)
        return vllm_engine_for(config, tokenizer, scorer=scorer)
    source = resolve_model_path(config.model.path) if model is None else model
    return HFEngine(source, tokenizer=tokenizer, device=device or config.model.device, autocast=precision)


def load_hf_engine(path: str | Path, device: str = "cpu", **kwargs) -> Engine:
    """An HFEngine over a model directory, with one-line errors for broken directories."""
    from sparring.engines.hf import HFEngine

    resolved = resolve_model_path(path)
    with loading_model(resolved):
        return HFEngine(resolved, device=device, **kwargs)


@contextmanager
def loading_model(path: Path) -> Iterator[None]:
    """Turn what transformers raises for a broken model directory (bad JSON, missing weights) into one line."""
    try:
        yield
    except (OSError, ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"cannot load model from {path}: {first}") from None


__all__ = [
    "BUNDLED",
    "Engine",
    "EngineStats",
    "Generation",
    "SamplingParams",
    "load_hf_engine",
    "load_tokenizer",
    "loading_model",
    "make_engine",
    "resolve_model_path",
]
