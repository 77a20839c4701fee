"""Text-generation engines. ``HFEngine`` is the default; ``VLLMEngine`` lives behind the ``gpu`` extra."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sparring.engines.base import Engine, EngineStats, Generation, SamplingParams
from sparring.errors import UserError

BUNDLED = Path(__file__).resolve().parent.parent / "assets" / "models" / "sparring-tiny"


def resolve_model_path(path: str | Path) -> Path:
    """``bundled`` -> the model shipped in the repo; otherwise a local HF model directory."""
    resolved = BUNDLED if str(path) == "bundled" else Path(path).expanduser()
    if not resolved.is_dir():
        hint = " (the bundled model is made by `sparring pretrain`)" if str(path) == "bundled" else ""
        raise UserError(f"model directory not found: {resolved}{hint}")
    if not (resolved / "config.json").exists():
        raise UserError(f"{resolved} is not a Hugging Face model directory (no config.json)")
    return resolved


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
    "loading_model",
    "resolve_model_path",
]
