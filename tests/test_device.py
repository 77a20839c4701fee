"""Precision: ``auto`` follows the machine unless SPARRING_PRECISION forces it; an explicit precision always wins."""

from __future__ import annotations

import pytest
import torch
from precision import FP32_RUN

from sparring.cli import main
from sparring.device import PRECISION_ENV, autocast_dtype, cpu_has_fast_bf16
from sparring.errors import UserError


@pytest.mark.parametrize(
    ("value", "dtype"), [("bf16", torch.bfloat16), ("BFloat16", torch.bfloat16), ("fp32", None), ("float32", None)]
)
def test_the_variable_forces_what_auto_means(monkeypatch, value, dtype):
    monkeypatch.setenv(PRECISION_ENV, value)
    assert autocast_dtype("cpu") is dtype
    assert autocast_dtype("cpu", "auto") is dtype


@pytest.mark.parametrize("value", ["", "auto", " auto "])
def test_unset_or_auto_follows_the_cpu(monkeypatch, value):
    monkeypatch.setenv(PRECISION_ENV, value)
    assert autocast_dtype("cpu") is (torch.bfloat16 if cpu_has_fast_bf16() else None)


@pytest.mark.parametrize("forced", ["bf16", "fp32"])
def test_an_explicit_precision_is_never_overridden(monkeypatch, forced):
    monkeypatch.setenv(PRECISION_ENV, forced)
    assert autocast_dtype("cpu", "float32") is None
    assert autocast_dtype("cpu", "bfloat16") is torch.bfloat16
    assert autocast_dtype("cpu", None) is None


def test_an_unknown_value_is_a_user_error_and_a_one_line_cli_error(monkeypatch, capsys):
    monkeypatch.setenv(PRECISION_ENV, "fp16")
    with pytest.raises(UserError, match="SPARRING_PRECISION='fp16' is not a precision; use bf16, fp32 or auto"):
        autocast_dtype("cpu")
    assert main(["games"]) == 2  # even a command that needs no model: the environment is wrong
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip().splitlines() == [
        "error: SPARRING_PRECISION='fp16' is not a precision; use bf16, fp32 or auto"
    ]


def test_a_training_run_follows_the_variable(monkeypatch, tmp_path):
    """The engine and the learner of a run both resolve ``model.precision: auto`` through the variable."""
    from sparring.checkpoint import RunDir
    from sparring.config import load_config
    from sparring.train import build

    monkeypatch.setenv(PRECISION_ENV, "bf16")
    t = build(load_config("spiral-tictactoe"), RunDir(tmp_path / "run"))
    assert t.engine.autocast_dtype is torch.bfloat16 and t.learner.precision is torch.bfloat16
    pinned = build(load_config("spiral-tictactoe", [FP32_RUN]), RunDir(tmp_path / "pinned"))
    assert pinned.engine.autocast_dtype is None and pinned.learner.precision is None
