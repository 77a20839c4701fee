"""Preference self-play rounds end to end: every recipe through ``sparring train``, resume, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from precision import FP32_RUN

from sparring.checkpoint import RunDir
from sparring.cli import main
from sparring.config import load_config

SMALL = [
    "max_steps=2",
    "preference.prompts_per_round=4",
    "preference.samples_per_prompt=3",
    "preference.eval_limit=6",
    "preference.epochs=1",
    "sampling.max_new_tokens=8",
    "logging.tensorboard=false",
]
RECIPES = ["spin", "sppo", "dno", "spo", "spar", "eva"]


def metrics_without_time(run: RunDir) -> list[dict]:
    return [{k: v for k, v in m.items() if not k.startswith(("time/", "speed/"))} for m in run.read_metrics()]


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_preference_recipe_runs_end_to_end_and_leaves_a_report(recipe, tmp_path, capsys):
    out = tmp_path / recipe
    assert main(["train", recipe, "--run-dir", str(out), *SMALL]) == 0
    run = RunDir(out)
    steps = [m["step"] for m in run.read_metrics()]
    assert steps == [0, 1, 2]
    last = run.read_metrics()[-1]
    assert 0 <= last["eval/quality_low"] <= last["eval/quality"] <= last["eval/quality_high"] <= 1
    assert 0 <= last["eval/win_vs_round0"] <= 1
    assert run.report_path.is_file()
    from sparring.report.curves import chart_specs

    assert {"pref-quality", "pref-wins"} <= {c["id"] for c in chart_specs(run.read_metrics())}
    for k in (1, 2):  # a preference dataset per round, in TRL's DPO format
        for line in run.pairs_path(k).read_text().splitlines():
            row = json.loads(line)
            assert set(row) == {"prompt", "chosen", "rejected"} and all(isinstance(v, str) for v in row.values())
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out / "checkpoints" / "step-2" / "model")  # a plain HF model directory
    assert "round   2/2" in capsys.readouterr().out


@pytest.mark.parametrize("recipe", ["sppo", "spo"])
def test_a_resumed_run_equals_an_uninterrupted_one(recipe, tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert main(["train", recipe, "--run-dir", str(whole), *SMALL, FP32_RUN]) == 0
    assert main(["train", recipe, "--run-dir", str(parts), *SMALL, FP32_RUN, "max_steps=1"]) == 0
    assert main(["train", "--resume", str(parts), "--max-steps", "2"]) == 0
    assert metrics_without_time(RunDir(whole)) == metrics_without_time(RunDir(parts))
    from safetensors.torch import load_file

    a = load_file(whole / "checkpoints" / "step-2" / "model" / "model.safetensors")
    b = load_file(parts / "checkpoints" / "step-2" / "model" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_an_unknown_oracle_is_one_line(tmp_path, capsys):
    assert main(["train", "sppo", "--run-dir", str(tmp_path / "x"), "preference.oracle=judgy"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown oracle 'judgy'" in err
    assert not (tmp_path / "x").exists()


def test_a_broken_prompts_file_is_one_line_and_leaves_no_run(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "What is 1 + 1?", "answer": "2"}\n{oops\n')
    assert main(["train", "spin", "--run-dir", str(tmp_path / "x"), f"preference.prompts={bad}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "line 2 is not valid JSON" in err
    assert not (tmp_path / "x").exists()


def test_a_loss_that_does_not_fit_the_algorithm_is_refused():
    from sparring.errors import UserError

    with pytest.raises(UserError, match="spin makes pairs"):
        load_config("spin", ["preference.loss=sppo"])
    with pytest.raises(UserError, match="spo trains with the policy-gradient learner"):
        load_config("spo", ["preference.loss=dpo"])


def test_what_preference_rounds_do_not_support_is_refused_in_one_line():
    from sparring.errors import UserError

    with pytest.raises(UserError, match="sample with the HF engine"):
        load_config("sppo", ["engine.kind=vllm"])
    with pytest.raises(UserError, match="LoRA"):
        load_config("sppo", ["model.lora.r=8"])
    with pytest.raises(UserError, match="constant learning rate"):
        load_config("sppo", ["learner.lr_decay=cosine"])


def test_rounds_walk_through_the_prompt_set_and_eva_adds_its_creators_choices():
    from types import SimpleNamespace

    from sparring.preference.rounds import deal

    config = load_config("eva", ["preference.prompts_per_round=8", "preference.creator_share=0.5"])
    r = SimpleNamespace(config=config, tasks=list(range(10)), step=0, evolved=[])
    first = deal(r)
    r.step, r.evolved = 1, [7, 7, 3, 1, 9]
    second = deal(r)
    assert len(first) == 4 and second[:4] == [7, 7, 3, 1] and len(second) == 8
    assert not set(first) & set(second[4:])  # the pass moves on by 4 a round, whatever the creator chose
    r.step, r.evolved = 2, []
    assert sorted(first + second[4:] + deal(r)[:2]) == list(range(10))  # one pass covers every task once
