"""Where a model lives: ``bundled`` or a local Hugging Face directory (imported by the engines and by LoRA)."""

from __future__ import annotations

from pathlib import Path

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
