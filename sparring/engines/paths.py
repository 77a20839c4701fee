"""Where a model lives: ``bundled`` or a local Hugging Face directory, and its tokenizer.

A leaf module (no config, no engine factory) so that LoRA and the preference judges can
load a model without importing :mod:`sparring.engines`, which imports the config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def load_tokenizer(path: str | Path) -> Any:
    """A model's tokenizer; one that names no pad token pads with its end-of-text token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(path))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
