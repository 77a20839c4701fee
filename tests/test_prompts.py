"""Prompt rendering and answer parsing: every way a model can answer, well or badly."""

from __future__ import annotations

import pytest

from sparring.games import make_game
from sparring.pretrain import chatml
from sparring.prompts import PromptConfig, encode_chat, format_answer, parse_answer, read_move, render_messages, resolve_move


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


# ----------------------------------------------------------------------------- SPIRAL's style
SPIRAL = PromptConfig(style="spiral")
TTT = [str(i) for i in range(9)]
KUHN = ["check", "bet"]


def test_spiral_prompt_is_spirals_qwen3_template_around_rules_and_observation(bundled_tokenizer):
    # spiral-rl/spiral spiral/template.py (apply_qwen3_template), written out by hand; the bundled
    # tokenizer's ChatML template adds the same role markers SPIRAL writes itself.
    game = make_game("kuhn_poker")
    state = game.new_state(3)
    observation = game.describe() + "\n\n" + state.observation(0)
    expected = (
        "<|im_start|>user\nYou are playing a two-player zero-sum game. Make valid actions to win.\n"
        f"Observation: {observation}\n"
        "Please reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    messages = render_messages(game, state, 0, SPIRAL)
    assert [m["role"] for m in messages] == ["user"]  # no system message
    ids = encode_chat(bundled_tokenizer, messages)
    assert bundled_tokenizer.decode(ids) == expected
    assert ids == bundled_tokenizer.encode(expected, add_special_tokens=False)
    assert "Legal moves: check, bet" in expected and "Kuhn poker" in expected


@pytest.mark.parametrize(
    ("text", "legal", "action"),
    [
        # the last \boxed{} is the answer, brace-matched, \text{} unwrapped; bracketed or not
        ("I take the centre. \\boxed{4}", TTT, "4"),
        ("\\boxed{[4]}", TTT, "4"),
        ("First \\boxed{3}, no wait, \\boxed{7}", TTT, "7"),
        ("\\boxed{\\text{bet}}", KUHN, "bet"),
        ("\\boxed{check}", KUHN, "check"),
        # no \boxed{}: the whole stripped text, wrapped in brackets when it has none and at most 5 words
        ("bet", KUHN, "bet"),
        ("  \n check \n", KUHN, "check"),
        ("[bet]", KUHN, "bet"),
        ("\\boxed{}", KUHN, None),
        # ... but never searched inside: brackets present, or more than 5 words, is taken as it stands
        ("I choose [bet]", KUHN, None),
        ("I think that I should bet", KUHN, None),
        # case-sensitive, exact: SPIRAL's legal list is [check], [bet]
        ("\\boxed{Bet}", KUHN, None),
        ("\\boxed{BET}", KUHN, None),
        ("Check", KUHN, None),
        # inner spaces are kept ([ 4 ] is not [4]); outer ones stripped only after wrapping
        ("\\boxed{ 4 }", TTT, None),
        ("\\boxed{4 }", TTT, None),
        # what SPIRAL's extract_boxed_answer does not read: \fbox, "\boxed {", an unclosed box
        ("\\fbox{4}", TTT, None),
        ("\\boxed {4}", TTT, None),
        ("the answer is \\boxed{4", TTT, None),
        ("   ", KUHN, None),
    ],
)
def test_spiral_parser_cases(text, legal, action):
    parsed = read_move(text, legal, SPIRAL)
    assert parsed.action == action
    assert (parsed.reason is None) == (action is not None)


def test_spiral_parser_reason_names_the_answer_and_the_legal_list():
    reason = read_move("\\boxed{Bet}", KUHN, SPIRAL, truncated=True).reason
    assert reason == "'[Bet]' in \\boxed{} is not exactly one of [check], [bet] (case-sensitive) (output cut at max new tokens)"
    assert "no \\boxed{} answer" in read_move("I think that I should bet", KUHN, SPIRAL).reason


def test_spiral_parser_hands_empty_text_and_free_text_to_the_game():
    assert read_move("", KUHN, SPIRAL).action == ""  # SPIRAL gives the env "" to judge
    assert read_move("Deal? \\boxed{Accept}", None, SPIRAL).action == "[Accept]"
    offer = "I propose \\boxed{[Offer: 1 Gold ->  2 Wood]}"
    assert read_move(offer, None, SPIRAL).action == "[Offer: 1 Gold -> 2 Wood]"
    talk = "Let us both keep what we have for now."
    assert read_move(talk, None, SPIRAL).action == talk


def test_spiral_and_sparring_styles_read_the_same_text_differently():
    # The lenient sparring reader maps spellings onto legal moves; SPIRAL's does not.
    for text, legal in [("\\boxed{Bet}", KUHN), ("\\boxed{ 4 }", TTT), ("\\boxed{[Bet]}", KUHN)]:
        assert read_move(text, legal).action in legal
        assert read_move(text, legal, SPIRAL).action is None
    # ... and SPIRAL's short-answer fallback reads a bare move the sparring reader refuses.
    assert read_move("bet", KUHN).action is None
    assert read_move("bet", KUHN, SPIRAL).action == "bet"


def test_clean_answers_round_trip_in_spiral_style():
    game = make_game("tic_tac_toe")
    for move in game.new_state(0).legal_actions():
        assert read_move(format_answer(move, "boxed"), TTT, SPIRAL).action == move


def test_spiral_style_needs_boxed_answers():
    with pytest.raises(ValueError, match="boxed"):
        PromptConfig(style="spiral", answer_format="brackets")


def test_config_prompt_style_reaches_the_player_and_spiral_must_be_boxed():
    from sparring.config import load_config
    from sparring.errors import UserError

    assert load_config(None).prompt.prompt_config() == PromptConfig()  # sparring style stays the default
    assert load_config(None, ["prompt.style=spiral"]).prompt.prompt_config().style == "spiral"
    with pytest.raises(UserError, match="prompt: style spiral answers in"):
        load_config(None, ["prompt.style=spiral", "prompt.answer_format=brackets"])


@pytest.mark.parametrize("recipe", ["spiral-qwen3-4b", "small-gpu"])
def test_recipes_for_real_models_use_spirals_prompt_and_recompute_old_logprobs(recipe):
    from sparring.config import load_config

    config = load_config(recipe)
    assert config.prompt.style == "spiral"
    assert config.engine.kind == "vllm" and config.learner.recompute_old_logprobs in ("auto", True)
