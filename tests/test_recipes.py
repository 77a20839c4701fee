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


def test_the_demo_runs_the_tictactoe_recipe_and_that_recipe_holds_a_fixed_magnet():
    """`make demo` trains `tictactoe`, whose KL to the start model (never moved) is what keeps the base model's
    non-loss against perfect play (README, Two commands); a recipe edit that drops it changes the demo."""
    makefile = (README.parent / "Makefile").read_text(encoding="utf-8")
    assert "-m sparring train tictactoe name=demo" in makefile
    config = load_config("tictactoe", [])
    assert config.learner.kl_coef > 0 and config.reference.update_every == 0
