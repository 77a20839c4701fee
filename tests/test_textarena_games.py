"""The TextArena adapter: every ``ta_`` game plays, replays, clones and refuses moves as the protocol says."""

from __future__ import annotations

import ast
import math
import random
import re
import subprocess
import sys
from collections.abc import Callable

import pytest

from sparring.errors import UserError
from sparring.games import TERMINAL, FreeTextState, Game, InvalidAction, State, game_entries, game_entry, make_game
from sparring.games.textarena import INSTALL_HINT

TA_GAMES = ["ta_colonel_blotto", "ta_kuhn_poker", "ta_nim", "ta_pig_dice", "ta_simple_negotiation"]
CHANCE_GAMES = ["ta_kuhn_poker", "ta_pig_dice", "ta_simple_negotiation"]

# Moves TextArena refuses in the opening position, each with a piece of TextArena's reason.
REFUSED = [
    ("ta_nim", "garbage no brackets", "No valid move format found"),
    ("ta_nim", "[0 99]", "Cannot remove 99 from pile 0"),
    ("ta_nim", "[7 1]", "Pile index 7 is out of range"),
    ("ta_pig_dice", "garbage no brackets", "Invalid action format"),
    ("ta_pig_dice", "[jump]", "Invalid action format"),
    ("ta_colonel_blotto", "garbage no brackets", "Invalid input format"),
    ("ta_colonel_blotto", "[A5 B5]", "You have to allocate exactly 20 units"),
    ("ta_colonel_blotto", "[Z20]", "Invalid field name"),
    ("ta_kuhn_poker", "garbage no brackets", "Action must be [Check], [Bet], [Call], or [Fold]"),
    ("ta_kuhn_poker", "[call]", "Action must be [check], [bet]"),
    ("ta_simple_negotiation", "[Offer: 3 Gold -> 2 Wood]", "incorrect format"),
    ("ta_simple_negotiation", "[Offer: 999 Wheat -> 1 Ore]", "without having the necessary resources"),
]

Transcript = list[tuple[int, str, str]]
Chooser = Callable[[list[str]], str]


def needs_textarena(name: str) -> Game:
    pytest.importorskip("textarena")
    return make_game(name)


@pytest.fixture(params=TA_GAMES)
def game(request: pytest.FixtureRequest) -> Game:
    return needs_textarena(request.param)


def play(game: Game, seed: int, choose: Chooser | None = None, max_moves: int = 200) -> tuple[State, Transcript]:
    """Play from ``seed``; ``choose`` picks from ``example_actions`` (default: a random.Random(seed))."""
    state, rng = game.new_state(seed), random.Random(seed)
    choose = choose or rng.choice
    transcript: Transcript = []
    while not state.is_terminal() and len(transcript) < max_moves:
        player = state.current_player
        action = choose(state.example_actions())
        transcript.append((player, state.observation(player), action))
        state.apply(action)
    return state, transcript


def snapshot(state: State) -> tuple:
    return state.current_player, state.observation(0), state.observation(1), state.render(), state.returns()


def history(state: State, player: int) -> str:
    """The player's observation without the closing how-to-answer line."""
    text = state.observation(player)
    return text.rsplit("\n", 1)[0] if player == state.current_player else text


def test_every_textarena_game_is_registered_as_a_two_player_textarena_game():
    pytest.importorskip("textarena")
    entries = {e.name: e for e in game_entries() if e.source == "textarena"}
    assert sorted(entries) == TA_GAMES
    for entry in entries.values():
        assert entry.num_players == 2 and entry.zero_sum and entry.unavailable is None
        assert make_game(entry.name).describe().strip()
    assert game_entry("simple_negotiation").source == "native"


def test_random_play_ends_within_200_moves_with_zero_sum_returns(game: Game):
    for seed in range(20):
        state, transcript = play(game, seed)
        assert isinstance(state, FreeTextState)
        assert state.is_terminal() and state.current_player == TERMINAL, f"seed {seed} did not end"
        assert state.example_actions() == [] and state.legal_actions() is None
        returns = state.returns()
        assert len(returns) == 2 and all(math.isfinite(r) and r in (-1.0, 0.0, 1.0) for r in returns)
        assert sum(returns) == 0
        with pytest.raises(InvalidAction, match="over"):
            state.apply(transcript[-1][2])


def test_returns_are_zero_before_the_end(game: Game):
    assert game.new_state(0).returns() == [0.0, 0.0]


def test_same_seed_replays_the_same_game(game: Game):
    first, first_moves = play(game, 11)
    again, again_moves = play(game, 11)
    assert first_moves == again_moves
    assert snapshot(first) == snapshot(again)


@pytest.mark.parametrize("name", CHANCE_GAMES)
def test_the_seed_drives_chance(name: str):
    game = needs_textarena(name)
    always_first = lambda moves: moves[0]
    transcripts = {str(play(game, seed, always_first)[1]) for seed in range(10)}
    assert len(transcripts) > 1


def test_interleaved_games_play_as_if_alone(game: Game):
    alone = [play(game, seed) for seed in (3, 4)]
    states = [game.new_state(3), game.new_state(4)]
    rngs = [random.Random(3), random.Random(4)]
    transcripts: list[Transcript] = [[], []]
    while not all(s.is_terminal() for s in states):
        for state, rng, moves in zip(states, rngs, transcripts, strict=True):
            if not state.is_terminal():
                player = state.current_player
                action = rng.choice(state.example_actions())
                moves.append((player, state.observation(player), action))
                state.apply(action)
    for (state, moves), interleaved, interleaved_state in zip(alone, transcripts, states, strict=True):
        assert interleaved == moves
        assert snapshot(interleaved_state) == snapshot(state)


def test_playing_leaves_the_global_random_state_alone(game: Game):
    random.seed(1234)
    before = random.getstate()
    play(game, 7)
    assert random.getstate() == before
    first = play(game, 7)[1]
    random.seed(99)  # nor does the caller's global state leak into the game
    assert play(game, 7)[1] == first


def test_histories_only_grow_and_the_player_to_move_is_told_how_to_answer(game: Game):
    state, rng = game.new_state(5), random.Random(5)
    greetings = [state.observation(p).splitlines()[0] for p in (0, 1)]
    while not state.is_terminal():
        me = state.current_player
        assert "Your move" in state.observation(me).splitlines()[-1]
        assert "Your move" not in state.observation(1 - me).splitlines()[-1]
        before = [history(state, p) for p in (0, 1)]
        state.apply(rng.choice(state.example_actions()))
        for player in (0, 1):
            assert history(state, player).startswith(before[player])
    for player in (0, 1):  # each message is shown once: the prompt opens the history and never repeats
        assert state.observation(player).startswith(greetings[player])
        assert state.observation(player).count(greetings[player]) == 1
        assert greetings[player] not in state.observation(1 - player)


def test_pig_dice_rolls_fresh_dice_every_time():
    state = needs_textarena("ta_pig_dice").new_state(0)
    for _ in range(40):
        state.apply("[roll]")
    seen = state.observation(0)
    rolls = {int(r) for line in re.findall(r"roll history for this turn: (.*)", seen) for r in re.findall(r"\d", line)}
    assert "busted" in seen and len(rolls) >= 3


def test_clone_is_independent_and_carries_the_rng(game: Game):
    state, _ = play(game, 2, max_moves=3)
    before = snapshot(state)
    copy = state.clone()
    play_on = random.Random(0)
    while not copy.is_terminal():
        copy.apply(play_on.choice(copy.example_actions()))
    assert snapshot(state) == before

    twin = state.clone()
    for _ in range(5):
        if state.is_terminal():
            break
        action = state.example_actions()[0]
        state.apply(action)
        twin.apply(action)
        assert snapshot(state) == snapshot(twin)


@pytest.mark.parametrize(("name", "action", "reason"), REFUSED)
def test_refused_move_raises_with_textarenas_reason_and_changes_nothing(name: str, action: str, reason: str):
    game = needs_textarena(name)
    state = game.new_state(0)
    before = snapshot(state)
    for _ in range(3):  # TextArena's error allowance must neither end the game nor be used up
        with pytest.raises(InvalidAction, match=re.escape(reason)):
            state.apply(action)
        assert snapshot(state) == before
    assert "invalid move" not in state.observation(0) + state.observation(1)

    valid = state.example_actions()[0]
    untouched = game.new_state(0)
    state.apply(valid)
    untouched.apply(valid)
    assert snapshot(state) == snapshot(untouched)


def test_negotiation_text_without_an_action_is_talk_the_opponent_hears():
    state = needs_textarena("ta_simple_negotiation").new_state(0)
    state.apply("garbage no brackets")
    assert state.current_player == 1
    assert "[Player 0] garbage no brackets" in state.observation(1)
    assert "Turn 2 of 11" in state.observation(1)


def test_negotiation_offers_the_player_can_pay_are_accepted_and_trade():
    state = needs_textarena("ta_simple_negotiation").new_state(0)
    offer = next(a for a in state.example_actions() if a.startswith("[Offer"))
    state.apply(offer)
    assert "[Accept]" in state.example_actions() and "[Deny]" in state.example_actions()
    state.apply("[Accept]")
    assert "Player 1 accepted the trade offer from Player 0" in state.observation(0)


def test_kuhn_cards_are_private_but_rendered():
    state = needs_textarena("ta_kuhn_poker").new_state(0)
    cards = [re.search(r"Your card is: '(\w)'", state.observation(p)).group(1) for p in (0, 1)]
    assert cards[0] != cards[1]
    assert f"Your card is: '{cards[0]}'" not in state.observation(1)
    assert all(f"Your card is: '{c}'" in state.render() for c in cards)


def test_without_textarena_games_are_listed_unavailable_with_the_install_hint(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "textarena", None)  # makes `import textarena` fail
    for name in TA_GAMES:
        entry = game_entry(name)
        assert entry.unavailable == INSTALL_HINT == "TextArena is not installed: pip install 'sparring[textarena]'"
        assert entry.as_dict()["available"] is False
        with pytest.raises(UserError, match=re.escape(INSTALL_HINT)):
            make_game(name)


def test_the_games_package_imports_without_textarena():
    code = (
        "import sys; sys.modules['textarena'] = None\n"
        "from sparring.games import game_entries\n"
        "print(sorted(e.name for e in game_entries() if e.unavailable))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert ast.literal_eval(out) == TA_GAMES
