"""Every bundled recipe is a valid config and is listed in the README's recipe table."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparring.config import load_config, recipe_names

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize("recipe", recipe_names())
def test_every_recipe_validates_and_the_readme_lists_it(recipe):
    config = load_config(recipe, [])
    assert config.name == recipe
    rows = [line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    listed = any(f"`{recipe}`" in row.split(" | ")[0] for row in rows)
    base = recipe.removesuffix("-gpu")
    as_variant = recipe.endswith("-gpu") and any(f"`{base}`" in row and "`-gpu` variant" in row for row in rows)
    assert listed or as_variant, f"{recipe} is missing from the README's recipe table"


def test_the_demo_runs_the_tictactoe_recipe_and_that_recipe_plays_perfect_play_without_a_magnet():
    """`make demo` trains `tictactoe`, which plays `minimax` in every game with no KL: measured, that is what
    teaches X to hold perfect play, where self-play collapses, a magnet holds the start and half the games in
    self-play undo the gain (README, Two commands); a recipe edit that changes either changes the demo."""
    makefile = (README.parent / "Makefile").read_text(encoding="utf-8")
    assert "-m sparring train tictactoe name=demo" in makefile
    config = load_config("tictactoe", [])
    assert config.opponent.kind == "fixed" and config.opponent.fixed == "minimax"
    assert config.opponent.fixed_self_play_share == 0 and config.learner.kl_coef == 0
