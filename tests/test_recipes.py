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


@pytest.mark.parametrize(("recipe", "every"), [("kuhn", 1), ("leduc", 4)])
def test_the_poker_recipes_train_against_the_exploiter_without_a_magnet(recipe, every):
    """Measured (README, "An exploiter in the league"): against an exact best response to itself the single
    policy reaches Kuhn's goal within a CPU minute and holds it, where every self-play update cycled or
    drifted; the KL only slowed it. Leduc recomputes the response every 4 steps (6 CPU seconds a time)."""
    config = load_config(recipe, [])
    assert config.opponent.kind == "exploiter" and config.opponent.exploiter_every == every
    assert config.opponent.fixed_self_play_share == 0 and config.learner.kl_coef == 0
    assert config.checkpoint.keep_best == "exploitability"
    # Leduc's pots reach 13 chips: a unit forfeit (-1.5) is cheaper than folding one, and the policy learned
    # to answer garbage there (30% invalid on one seed); counted in stakes, a forfeit is the worst result.
    assert config.rollout.invalid_in_stakes == (recipe == "leduc")
