"""Prompt rendering and answer parsing: every way a model can answer, well or badly."""

from __future__ import annotations

import pytest

from sparring.games import make_game
from sparring.pretrain import chatml
from sparring.prompts import PromptConfig, encode_chat, format_answer, parse_answer, render_messages, resolve_move


@pytest.mark.parametrize(
    ("text", "action", "reason"),
    [
        ("\\boxed{4}", "4", None),
        ("Let me think. The centre is strong... \\boxed{4}", "4", None),
        ("First \\boxed{3}, no wait, \\boxed{7}", "7", None),
        ("\\boxed{\\text{bet}}", "bet", None),
        ("\\boxed{ [Offer: 3 Wood -> 2 Gold] }", "[Offer: 3 Wood -> 2 Gold]", None),
        ("\\boxed{{nested}}", "{nested}", None),
        ("", None, "empty output"),
        ("   \n ", None, "empty output"),
        ("I pick four.", None, "no \\boxed{} answer found"),
        ("\\boxed{4", None, "unclosed \\boxed{"),
        ("\\boxed{ }", None, "empty answer"),
        ("\x00\ufffd漢字\U0001f600 garbage", None, "no \\boxed{} answer found"),
    ],
)
def test_parse_boxed(text, action, reason):
    parsed = parse_answer(text)
    assert parsed.action == action
    assert parsed.reason == reason


def test_output_cut_at_max_tokens_says_so():
    parsed = parse_answer("thinking about it \\boxed{", truncated=True)
    assert parsed.action is None and parsed.reason == "unclosed \\boxed{ (output cut at max new tokens)"
    assert parse_answer("\\boxed{2}", truncated=True).action == "2"  # a complete answer counts even if cut after


def test_other_formats():
    assert parse_answer("I play [3] then maybe [5]", "brackets").action == "[5]"
    assert parse_answer("nothing here", "brackets").reason == "no [move] answer found"
    assert parse_answer("<answer>check</answer> <answer> bet </answer>", "answer_tag").action == "bet"
    assert parse_answer("<answer>check", "answer_tag").action is None


@pytest.mark.parametrize("fmt", ["boxed", "brackets", "answer_tag"])
def test_format_then_parse_round_trips(fmt):
    for move in ["4", "check", "1x5", "[Offer: 1 Wood -> 2 Gold]"]:
        assert resolve_move(parse_answer(format_answer(move, fmt), fmt).action, [move, "other"]) == move


def test_resolve_move_maps_spellings_onto_legal_moves():
    assert resolve_move("[4]", ["3", "4"]) == "4"
    assert resolve_move("Bet", ["check", "bet"]) == "bet"
    assert resolve_move("'7'.", ["7"]) == "7"
    assert resolve_move("9", ["3", "4"]) == "9"  # left for the game to refuse, with its reason
    assert resolve_move("anything", None) == "anything"


def test_messages_carry_rules_observation_and_instruction():
    game = make_game("kuhn_poker")
    state = game.new_state(0)
    system, user = render_messages(game, state, 0)
    assert system["role"] == "system" and "Kuhn poker" in system["content"] and "\\boxed{}" in system["content"]
    assert user["content"] == state.observation(0) and "Legal moves: check, bet" in user["content"]
    brackets = render_messages(game, state, 0, PromptConfig(answer_format="brackets"))
    assert "square brackets" in brackets[0]["content"]
    assert len(render_messages(game, state, 0, PromptConfig(system=""))) == 1


def test_chat_template_matches_the_pretraining_layout(bundled_tokenizer):
    game = make_game("tic_tac_toe")
    messages = render_messages(game, game.new_state(0), 0)
    ids = encode_chat(bundled_tokenizer, messages)
    assert ids == bundled_tokenizer.encode(chatml(messages), add_special_tokens=False)
    assert bundled_tokenizer.decode(ids).endswith("<|im_start|>assistant\n")


def test_tokenizer_without_chat_template_gets_plain_layout(bundled_tokenizer):
    import copy

    plain = copy.deepcopy(bundled_tokenizer)
    plain.chat_template = None
    ids = encode_chat(plain, [{"role": "user", "content": "hi"}])
    assert plain.decode(ids) == "User: hi\n\nAssistant:"
